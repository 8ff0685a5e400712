// File: comm/a2a/inter_first_all_to_all.h
//
// InterFirstAllToAll: the two-level all-to-all with the inter-node phase first, the order of
// SMILE's bi-level dispatch (He et al., "SMILE: Scaling Mixture-of-Experts with Efficient
// Bi-level Routing", arXiv 2212.05191; ALGORITHMS.md §4.3) and of Tutel's Python 2DH variant
// PrimAllToAll2D (Hwang et al., arXiv 2206.03382; ALGORITHMS.md §8.1). EP rank r = n*G + l (node
// n of N, local index l of G); cnt[s][d] is the layout's count matrix. On rank (n_r, l):
//
//   input     [dst node n][dst local g]        blocks cnt[r][(n,g)]       (grouped by dst rank)
//   phase 1   inter-node block exchange over the N ranks with local index l: to node n, the
//             blocks cnt[r][(n,g)] for every g (from the input; own-node rows wait in the
//             input); from n', the blocks cnt[(n',l)][(n_r,g)]: g == l into the output, the
//             others into the stage [dst local g][src node n']
//   phase 2   intra-node block exchange over the G ranks of the node: to g, for every n' the
//             block cnt[(n',l)][(n_r,g)] (own from the input, relayed from the stage); from g',
//             for every n' the block cnt[(n',g')][r] into the output
//   output    [src node n'][src local g']      = grouped by source rank, as flat
//
// Blocks go straight from where they are to where they belong (Communicator::exchange_blocks),
// so no reordering copy is made; the traffic counters record one message per peer and phase.
// Every row crosses the inter-node network at most once (phase 1, only when its destination node
// differs); inter-node messages per rank are at most N - 1 (flat: G(N - 1)). Bit-identical output
// to the flat strategy. Needs the count matrix and a node-contiguous EP group.
#pragma once

#include <memory>

#include "comm/a2a/two_level_all_to_all.h"
#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

namespace switchyard::comm {

class InterFirstAllToAll : public TwoLevelAllToAll {
 public:
  // Arguments as TwoLevelAllToAll's.
  InterFirstAllToAll(std::shared_ptr<Communicator> group,
                     std::shared_ptr<Communicator> intra_node,
                     std::shared_ptr<Communicator> inter_node,
                     AllToAllStrategyOptions options = {});

  std::string_view name() const override { return "inter_first"; }
  at::Tensor exchange(const at::Tensor& input, const AllToAllLayout& layout) override;

 private:
  ReusableBuffer phase1_buffer_;
  ReusableBuffer output_;
};

}  // namespace switchyard::comm
