// File: comm/a2a/flat_all_to_all.h
//
// FlatAllToAll: one variable all-to-all over the expert-parallel group (point-to-point
// MPI_Isend/MPI_Irecv with the MPI backend, grouped ncclSend/ncclRecv with NCCL). The output
// storage is reused once the caller has dropped the previous result (ReusableBuffer). The counts
// come from the layout, which was exchanged beforehand (AllToAllLayout::exchange_counts) or is
// verified first.
//
// Traffic per exchange on rank r: one message of count(r, d) rows to every d != r with a
// non-zero count, intra-node when d is on r's node.
#pragma once

#include <memory>
#include <vector>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

namespace switchyard::comm {

class FlatAllToAll : public AllToAll {
 public:
  // group: the EP communicator; node_of: [group->size()] node index of every EP rank.
  FlatAllToAll(std::shared_ptr<Communicator> group,
               std::vector<int> node_of,
               AllToAllStrategyOptions options = {});

  std::string_view name() const override { return "flat"; }
  int group_size() const override;
  int group_rank() const override;
  at::Tensor exchange(const at::Tensor& input, const AllToAllLayout& layout) override;
  const TrafficCounters& traffic() const override { return traffic_; }
  void reset_traffic() override { traffic_ = {}; }

 private:
  std::shared_ptr<Communicator> group_;
  std::vector<int> node_of_;
  AllToAllStrategyOptions options_;
  TrafficCounters traffic_;
  ReusableBuffer output_;
};

}  // namespace switchyard::comm
