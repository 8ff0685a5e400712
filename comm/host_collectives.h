// File: comm/host_collectives.h
//
// The one home of the small collectives on host values (scalars, counts, flags) that models/ and
// train/ need around the payload exchanges: loss and metric reductions, the expert-count
// all-gather, the row offsets of the global batch, stop flags, the checkpoint choice.
//
// They run on a *host* communicator: one that accepts CPU tensors. With the MPI backend that is
// the group's own communicator; with NCCL (device buffers only) it is the MPI twin that
// ProcessGroups keeps beside it (ProcessGroups::host_world, ::host_expert), the way c10d keeps
// one backend per device type. Each helper is one collective (blocking: it returns when the
// result is complete, bounded by the communicator's timeout like every other collective).
//
//   double mean = all_reduce_sum(*groups.host_world, {loss})[0] / groups.host_world->size();
//   std::vector<int64_t> all = all_gather(*groups.host_expert, my_counts);  // [P * n]
//
// Payload (activations, gradients) never goes through here: it stays on the device
// communicators (AllToAll strategies, GradientSynchronizer, all_gather_autograd).
#pragma once

#include <cstdint>
#include <vector>

#include "comm/communicator.h"

namespace switchyard::comm {

// Element-wise reduction over the group (same length on every rank).
std::vector<double> all_reduce(Communicator& host, std::vector<double> values, ReduceOp op);
std::vector<int64_t> all_reduce(Communicator& host, std::vector<int64_t> values, ReduceOp op);
inline std::vector<double> all_reduce_sum(Communicator& host, std::vector<double> values) {
  return all_reduce(host, std::move(values), ReduceOp::kSum);
}
inline std::vector<int64_t> all_reduce_sum(Communicator& host, std::vector<int64_t> values) {
  return all_reduce(host, std::move(values), ReduceOp::kSum);
}

// True on every rank when `flag` is true on any rank.
bool any_rank(Communicator& host, bool flag);

// [size * n]: every rank's `values` (n equal on every rank) in rank order.
std::vector<int64_t> all_gather(Communicator& host, const std::vector<int64_t>& values);

// `value` of rank `root`, on every rank.
int64_t broadcast(Communicator& host, int64_t value, int root);

void barrier(Communicator& host);

}  // namespace switchyard::comm
