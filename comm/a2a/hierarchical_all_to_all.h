// File: comm/a2a/hierarchical_all_to_all.h
//
// HierarchicalAllToAll: Tutel's 2DH all-to-all (intra-node first) generalized to variable counts
// (ALGORITHMS.md §8.1, §8.4). EP rank r = n*G + l (node n of N, local index l of G); cnt[s][d]
// is the layout's count matrix. On rank (n_r, l), rows of H... elements:
//
//   input     [dst node n][dst local g]        blocks cnt[r][(n,g)]      (grouped by dst rank)
//   phase 1   intra-node block exchange over the G ranks of the node: to local g, the blocks
//             cnt[r][(n,g)] of every node n (from the input; own rows for other nodes wait in
//             the input); from g', the blocks cnt[(n_r,g')][(n,l)]: n == n_r into the output,
//             the others into the stage [dst node n][src local g']
//   phase 2   inter-node block exchange over the N ranks with local index l: to node n, for
//             every g' the block cnt[(n_r,g')][(n,l)] (own from the input, relayed from the
//             stage); from n', for every g' the block cnt[(n',g')][r] into the output
//   output    [src node n'][src local g']      = grouped by source rank, as flat
//
// Blocks go straight from where they are to where they belong (Communicator::exchange_blocks),
// so no reordering copy is made (the only copy is the rank's block for itself); the traffic
// counters record one message per peer and phase, the logical exchange.
// Inter-node traffic equals flat's in bytes but takes G x fewer messages per node (G(N-1) vs
// G^2(N-1) for a dense layout); intra-node bytes grow (every row moves within the node first).
// Needs the count matrix (layout from exchange_counts or from_count_matrix) and a node-contiguous
// EP group. With N == 1 or G == 1 one phase has only self blocks (local copies).
#pragma once

#include <memory>

#include "comm/a2a/two_level_all_to_all.h"
#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

namespace switchyard::comm {

class HierarchicalAllToAll : public TwoLevelAllToAll {
 public:
  // Arguments as TwoLevelAllToAll's.
  HierarchicalAllToAll(std::shared_ptr<Communicator> group,
                       std::shared_ptr<Communicator> intra_node,
                       std::shared_ptr<Communicator> inter_node,
                       AllToAllStrategyOptions options = {});

  std::string_view name() const override { return "hierarchical"; }
  at::Tensor exchange(const at::Tensor& input, const AllToAllLayout& layout) override;

 private:
  ReusableBuffer phase1_buffer_;
  ReusableBuffer output_;
};

}  // namespace switchyard::comm
