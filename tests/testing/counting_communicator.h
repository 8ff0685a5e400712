// CountingCommunicator: a Communicator that forwards every call to another one and counts the
// calls by operation in a counter shared with every communicator split from it, so a test can
// count all collectives a piece of code issues over a whole ProcessGroups.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "comm/communicator.h"

namespace switchyard::testing {

struct CollectiveCounts {
  std::map<std::string, int> calls;  // "all_gather" -> calls (every rank counts its own)
  std::map<std::string, int> all_to_all_dtypes;  // "BFloat16" -> all-to-alls carrying it
  int small() const {                            // everything but the payload all-to-all
    int n = 0;
    for (const auto& [op, c] : calls) n += op == "all_to_all" ? 0 : c;
    return n;
  }
  int of(const std::string& op) const {
    auto it = calls.find(op);
    return it == calls.end() ? 0 : it->second;
  }
};

class CountingCommunicator : public comm::Communicator {
 public:
  CountingCommunicator(std::shared_ptr<comm::Communicator> inner,
                       std::shared_ptr<CollectiveCounts> counts)
      : inner_(std::move(inner)), counts_(std::move(counts)) {}

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string_view backend_name() const override { return inner_->backend_name(); }
  const std::string& name() const override { return inner_->name(); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }

  std::shared_ptr<comm::Work> all_reduce(at::Tensor& tensor,
                                         const comm::AllReduceOptions& options) override {
    ++counts_->calls["all_reduce"];
    return inner_->all_reduce(tensor, options);
  }
  std::shared_ptr<comm::Work> all_gather(at::Tensor& out,
                                         const at::Tensor& in,
                                         const comm::AllGatherOptions& options) override {
    ++counts_->calls["all_gather"];
    return inner_->all_gather(out, in, options);
  }
  std::shared_ptr<comm::Work> all_to_all(at::Tensor& out,
                                         const at::Tensor& in,
                                         const std::vector<int64_t>& recv_counts,
                                         const std::vector<int64_t>& send_counts,
                                         const comm::AllToAllOptions& options) override {
    ++counts_->calls["all_to_all"];
    ++counts_->all_to_all_dtypes[std::string(c10::toString(in.scalar_type()))];
    return inner_->all_to_all(out, in, recv_counts, send_counts, options);
  }
  // Counted as the payload all-to-all: the two-level exchanges are made of these.
  std::shared_ptr<comm::Work> exchange_blocks(const std::vector<at::Tensor>& outs,
                                              const std::vector<at::Tensor>& ins,
                                              const std::vector<comm::BlockTransfer>& recvs,
                                              const std::vector<comm::BlockTransfer>& sends,
                                              const comm::AllToAllOptions& options) override {
    ++counts_->calls["all_to_all"];
    const at::Tensor& t = ins.empty() ? outs.front() : ins.front();
    ++counts_->all_to_all_dtypes[std::string(c10::toString(t.scalar_type()))];
    return inner_->exchange_blocks(outs, ins, recvs, sends, options);
  }
  std::shared_ptr<comm::Work> broadcast(at::Tensor& tensor,
                                        int root,
                                        const comm::BroadcastOptions& options) override {
    ++counts_->calls["broadcast"];
    return inner_->broadcast(tensor, root, options);
  }
  std::shared_ptr<comm::Work> barrier(const comm::BarrierOptions& options) override {
    ++counts_->calls["barrier"];
    return inner_->barrier(options);
  }
  std::shared_ptr<comm::Communicator> split(int color, int key, const std::string& name) override {
    return std::make_shared<CountingCommunicator>(inner_->split(color, key, name), counts_);
  }

 private:
  std::shared_ptr<comm::Communicator> inner_;
  std::shared_ptr<CollectiveCounts> counts_;
};

}  // namespace switchyard::testing
