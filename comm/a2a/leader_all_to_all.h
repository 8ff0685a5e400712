// File: comm/a2a/leader_all_to_all.h
//
// LeaderAllToAll: gather to one leader per node (local index 0), inter-node all-to-all among the
// N leaders, scatter back (ColossalAI HierarchicalAllToAll, ALGORITHMS.md §8.3), with variable
// counts. EP rank r = n*G + l; cnt = the layout's count matrix. On the leader of node n_r:
//
//   gather    intra-node all-to-all where every local rank g' sends all its rows to the leader
//             -> [src local g'][dst rank d]               blocks cnt[(n_r,g')][d]
//   reorder   [dst node n][dst local g][src local g']
//   exchange  inter-node all-to-all among leaders: to node n sum_{g,g'} cnt[(n_r,g')][(n,g)]
//             -> [src node n'][dst local g][src local g'] blocks cnt[(n',g')][(n_r,g)]
//   reorder   [dst local g][src node n'][src local g']
//   scatter   intra-node all-to-all: leader sends local g its [src node][src local] rows
//             -> on rank (n_r, g): grouped by source rank, as flat
//
// Inter-node messages per node: N-1 (flat: G^2(N-1)), each G^2 times larger, all through one
// rank; intra-node traffic: 2(G-1) full buffers. Pays off only for tiny messages across many
// nodes. Same requirements as HierarchicalAllToAll.
#pragma once

#include <memory>

#include "comm/a2a/two_level_all_to_all.h"
#include "comm/communicator.h"

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
};

}  // namespace switchyard::comm
