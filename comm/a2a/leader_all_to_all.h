// File: comm/a2a/leader_all_to_all.h
//
// LeaderAllToAll: gather to one leader per node (local index 0), inter-node all-to-all among the
// N leaders, scatter back (ColossalAI HierarchicalAllToAll, ALGORITHMS.md §8.3), with variable
// counts. EP rank r = n*G + l; cnt = the layout's count matrix. On the leader of node n_r:
//
//   gather    intra-node block exchange: every other local rank g' sends the leader one
//             block per destination rank d, cnt[(n_r,g')][d]; the leader receives each into
//             its output (d = leader), S (d on this node) or X (d on another node)
//   exchange  block exchange among the N leaders: to node n, [dst local g][src local g']
//             blocks cnt[(n_r,g')][(n,g)] (the leader's own from its input, the rest from X);
//             from n', the same order: g == 0 into the output, the rest into S
//   scatter   intra-node block exchange: the leader sends local g its rows in source-rank
//             order (its own from the input, the rest from S); rank (n_r, g) receives them into
//             its output, grouped by source rank, as flat
//
//   X = [dst node n != n_r][dst local g][src local g' != 0],
//   S = [dst local g != 0][src node n'][src local g'] without the leader's own rows.
// Inter-node messages per node: N-1 (flat: G^2(N-1)), each G^2 times larger, all through one
// rank; intra-node traffic: 2(G-1) full buffers. Pays off only for tiny messages across many
// nodes. Same requirements as HierarchicalAllToAll.
#pragma once

#include <memory>

#include "comm/a2a/two_level_all_to_all.h"
#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

namespace switchyard::comm {

class LeaderAllToAll : public TwoLevelAllToAll {
 public:
  // Arguments as TwoLevelAllToAll's.
  LeaderAllToAll(std::shared_ptr<Communicator> group,
                 std::shared_ptr<Communicator> intra_node,
                 std::shared_ptr<Communicator> inter_node,
                 AllToAllStrategyOptions options = {});

  std::string_view name() const override { return "leader"; }
  at::Tensor exchange(const at::Tensor& input, const AllToAllLayout& layout) override;

 private:
  ReusableBuffer x_buffer_;  // the leader's rows for other nodes
  ReusableBuffer s_buffer_;  // the leader's rows for this node's other ranks
  ReusableBuffer output_;
};

}  // namespace switchyard::comm
