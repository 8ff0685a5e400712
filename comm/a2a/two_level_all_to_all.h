// File: comm/a2a/two_level_all_to_all.h
//
// TwoLevelAllToAll: the common base of the strategies that exchange in two levels over a
// node-contiguous expert-parallel group (hierarchical, leader, inter-first). EP rank
// r = n * G + l (node n of N, local index l of G). It owns the three communicators, checks their
// shape once, and keeps the options and traffic counters; subclasses implement exchange() and
// start it with check_layout().
#pragma once

#include <memory>
#include <string_view>

#include "comm/all_to_all.h"
#include "comm/communicator.h"

namespace switchyard::comm {

class TwoLevelAllToAll : public AllToAll {
 public:
  int group_size() const override { return group_->size(); }
  int group_rank() const override { return group_->rank(); }
  const TrafficCounters& traffic() const override { return traffic_; }
  void reset_traffic() override { traffic_ = {}; }

 protected:
  // group: EP communicator (P = N*G ranks, node-contiguous); intra_node: the G EP ranks of this
  // node (rank = l); inter_node: the N EP ranks with local index l (rank = n). InternalError when
  // the shapes do not fit; `strategy` names the subclass in that message.
  TwoLevelAllToAll(std::string_view strategy,
                   std::shared_ptr<Communicator> group,
                   std::shared_ptr<Communicator> intra_node,
                   std::shared_ptr<Communicator> inter_node,
                   AllToAllStrategyOptions options);

  // The layout checks every exchange starts with (collective when the layout is verified);
  // two-level exchanges need the full count matrix.
  void check_layout(const at::Tensor& input, const AllToAllLayout& layout);

  std::shared_ptr<Communicator> group_;
  std::shared_ptr<Communicator> intra_;
  std::shared_ptr<Communicator> inter_;
  int num_nodes_ = 1;       // N
  int ranks_per_node_ = 1;  // G
  AllToAllStrategyOptions options_;
  TrafficCounters traffic_;
};

}  // namespace switchyard::comm
