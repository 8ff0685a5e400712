// File: models/moe/global_counts.h
//
// Per-expert counts of every routing group of a step, gathered over the ranks whose groups form
// the batch (RoutingContext::count_group): what a router needs for statistics counted over all
// workers rather than per rank (StableMoE's balance loss and capacity, SMILE's receiver-side
// capacity). One all-gather; no communication in a single process, where the call's routing
// groups are the whole batch (the single-process reference of a W-rank run passes W groups).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace switchyard::comm {
class Communicator;
}  // namespace switchyard::comm

namespace switchyard::models {

struct GatheredCounts {
  at::Tensor counts;        // [G_all, n] int64: every routing group of the step, rank order
  int64_t first_group = 0;  // row of this call's first group in `counts`
};

// local: [G, n] int64 counts of this call's G routing groups (G equal on every rank of `group`).
// Collective over `group` when it has more than one rank.
GatheredCounts gather_group_counts(const at::Tensor& local, comm::Communicator* group);

// [T] bool: token t (of group g, assigned to column a_t; -1 = none) is kept when fewer than
// capacity[a_t] tokens assigned to a_t come before it in arrival order: all tokens of the earlier
// groups of the step (rank order), then the earlier tokens of its own group. `counts` must count
// exactly the tokens with a_t >= 0 of every group.
at::Tensor keep_in_arrival_order(const at::Tensor& assignment,      // [T] int64
                                 const at::Tensor& group_of_token,  // [T] int64 local group
                                 const GatheredCounts& counts,
                                 const at::Tensor& capacity);  // [n] int64

}  // namespace switchyard::models
