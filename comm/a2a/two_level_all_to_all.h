// File: comm/a2a/two_level_all_to_all.h
//
// TwoLevelAllToAll: the common base of the strategies that exchange in two levels over a
// node-contiguous expert-parallel group (hierarchical, leader, inter-first). EP rank
// r = n * G + l (node n of N, local index l of G). It owns the three communicators, checks their
// shape once, and keeps the options and traffic counters; subclasses implement exchange() and
// start it with check_layout().
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

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

  // Row offsets of the blocks of an exchange: in[d] of the input's block for rank d, out[s] of
  // the output's block from rank s (prefix sums of the layout's send and receive counts).
  struct BlockOffsets {
    std::vector<int64_t> in;   // [P]
    std::vector<int64_t> out;  // [P]
  };
  static BlockOffsets block_offsets(const AllToAllLayout& layout);
  // Offsets of an outer x inner grid of blocks laid out in [o][i] order, skipping the (o, i) for
  // which skip(o, i) holds (their offset stays 0); rows(o, i) = a block's rows. Returns the
  // offsets [outer * inner] and sets *total to the rows of the grid.
  static std::vector<int64_t> grid_offsets(int outer,
                                           int inner,
                                           const std::function<bool(int, int)>& skip,
                                           const std::function<int64_t(int, int)>& rows,
                                           int64_t* total);
  // A tensor like `like` (trailing dims, dtype, device) with `rows` rows, from `buffer`.
  static at::Tensor rows_like(ReusableBuffer& buffer, const at::Tensor& like, int64_t rows);

  std::shared_ptr<Communicator> group_;
  std::shared_ptr<Communicator> intra_;
  std::shared_ptr<Communicator> inter_;
  int num_nodes_ = 1;       // N
  int ranks_per_node_ = 1;  // G
  AllToAllStrategyOptions options_;
  TrafficCounters traffic_;
};

}  // namespace switchyard::comm
