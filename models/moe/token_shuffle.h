// File: models/moe/token_shuffle.h
//
// Training-time random token shuffle across the EP group (the BASE-layer trick StableMoE trains
// with; Lewis et al., arXiv 2103.16716 §3.2; Dai et al., arXiv 2204.08396; ALGORITHMS.md §1.2).
// Before routing, every worker w permutes its T_w tokens with a seeded permutation and sends the
// r-th of W near-equal chunks to worker r (equal-split all-to-all); after the layer the exchange
// and the permutation are undone, so the layer's output is in the caller's token order.
//
//   TokenShuffle shuffle(ep_group, all_to_all);      // or TokenShuffle() for one process
//   ShuffleHandle h = shuffle.plan(T, group_sizes, seed);              // collective (count gather)
//   at::Tensor mixed = shuffle.forward(tokens /* [T, H] */, h);        // [T', H], differentiable
//   ... route, dispatch, experts, combine on `mixed` ...
//   at::Tensor out = shuffle.inverse(combined /* [T', H] */, h);      // [T, H], differentiable
//
// Layout. Worker w's permutation is randperm(T_w) drawn from mix_seed(seed, w): identical
// wherever worker w's tokens are shuffled. Chunk r of T_w rows has T_w / W rows, plus one for
// r < T_w % W. Worker r receives, in worker order, chunk r of every worker's permuted tokens:
// T'_r = sum_w chunk_r(T_w).
//
// Single-process reference. Without an EP group, `group_sizes` = [T_0 .. T_{W-1}] (the routing
// groups of a W-rank run concatenated) are shuffled exactly as W ranks would be; the result's
// group sizes are [T'_0 .. T'_{W-1}] (handle.shuffled_group_sizes). One group = a local
// permutation only.
//
// Collective (EP group): every EP rank calls plan/forward/inverse in the same order, and the
// backward of forward/inverse exchanges too (all_to_all_autograd).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"
#include "comm/communicator.h"

namespace switchyard::models {

// Rows of each of `workers` near-equal chunks of `rows` ([workers], sums to rows).
std::vector<int64_t> shuffle_chunk_sizes(int64_t rows, int workers);

// Worker `worker`'s permutation of its `rows` tokens for this shuffle seed ([rows] int64).
at::Tensor shuffle_permutation(int64_t rows, uint64_t seed, int worker);

struct ShuffleHandle {
  // Rows of the forward's input (index_select order: input rows in send order), [T] int64.
  at::Tensor send_order;
  // Inverse of send_order, [T] int64.
  at::Tensor restore_order;
  // EP exchange of the permuted rows (distributed only).
  comm::AllToAllLayout layout;
  bool distributed = false;
  int64_t input_rows = 0;
  int64_t output_rows = 0;
  // Single-process reference: the routing groups after the shuffle ([W]); distributed: empty.
  std::vector<int64_t> shuffled_group_sizes;
};

class TokenShuffle {
 public:
  // One process: shuffles the routing groups passed to plan() like that many ranks would.
  TokenShuffle() = default;
  // Over the EP group: `host_expert` is its host communicator (the count all-gather of plan()),
  // `all_to_all` runs over the same ranks.
  TokenShuffle(std::shared_ptr<comm::Communicator> host_expert,
               std::shared_ptr<comm::AllToAll> all_to_all);

  // Collective over the EP group (all-gathers the token counts). `group_sizes`: the local routing
  // groups (single-process reference of W ranks); must be empty with an EP group.
  ShuffleHandle plan(int64_t num_tokens,
                     const std::vector<int64_t>& group_sizes,
                     uint64_t seed) const;

  // [T, ...] -> [T', ...]; differentiable.
  at::Tensor forward(const at::Tensor& rows, const ShuffleHandle& handle) const;
  // [T', ...] -> [T, ...]; differentiable. inverse(forward(x)) == x bit for bit.
  at::Tensor inverse(const at::Tensor& rows, const ShuffleHandle& handle) const;

 private:
  std::shared_ptr<comm::Communicator> host_expert_;
  std::shared_ptr<comm::AllToAll> all_to_all_;
};

}  // namespace switchyard::models
