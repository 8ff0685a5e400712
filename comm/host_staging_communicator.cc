#include "comm/host_staging_communicator.h"

#include <utility>
#include <vector>

#include <ATen/ATen.h>

namespace switchyard::comm {
namespace {

// A host copy of `t` in its own buffer (a fresh tensor even when `t` is on the CPU).
at::Tensor host_copy(const at::Tensor& t) {
  return t.to(at::TensorOptions().device(at::kCPU), /*non_blocking=*/false, /*copy=*/true)
      .contiguous();
}

// An uninitialized host tensor shaped like `t`.
at::Tensor host_like(const at::Tensor& t) {
  return at::empty(t.sizes(), t.options().device(at::kCPU));
}

// The wrapped operation's Work; on completion copies each host result into its device tensor
// (once).
class StagedWork final : public Work {
 public:
  StagedWork(std::shared_ptr<Work> inner, std::vector<std::pair<at::Tensor, at::Tensor>> results)
      : inner_(std::move(inner)), results_(std::move(results)) {}

  bool is_completed() override {
    if (!inner_->is_completed()) return false;
    if (inner_->exception() == nullptr) copy_back();
    return true;
  }

  void wait(std::chrono::milliseconds timeout) override {
    inner_->wait(timeout);  // rethrows a failure: nothing is copied back then
    copy_back();
  }

  void synchronize_stream() override {}
  std::exception_ptr exception() const override { return inner_->exception(); }

 private:
  void copy_back() {
    if (copied_) return;
    for (auto& [device_tensor, host_tensor] : results_) device_tensor.copy_(host_tensor);
    copied_ = true;
  }

  std::shared_ptr<Work> inner_;
  std::vector<std::pair<at::Tensor, at::Tensor>> results_;  // (device output, host result)
  bool copied_ = false;
};

}  // namespace

HostStagingCommunicator::HostStagingCommunicator(std::shared_ptr<Communicator> inner,
                                                 bool always_stage)
    : inner_(std::move(inner)), always_stage_(always_stage) {}

std::shared_ptr<Work> HostStagingCommunicator::all_reduce(at::Tensor& tensor,
                                                          const AllReduceOptions& options) {
  if (!staged(tensor)) return inner_->all_reduce(tensor, options);
  at::Tensor host = host_copy(tensor);
  auto work = inner_->all_reduce(host, options);
  return std::make_shared<StagedWork>(
      std::move(work), std::vector<std::pair<at::Tensor, at::Tensor>>{{tensor, host}});
}

std::shared_ptr<Work> HostStagingCommunicator::all_gather(at::Tensor& out,
                                                          const at::Tensor& in,
                                                          const AllGatherOptions& options) {
  if (!staged(out) && !staged(in)) return inner_->all_gather(out, in, options);
  at::Tensor host_out = host_like(out);
  auto work = inner_->all_gather(host_out, host_copy(in), options);
  return std::make_shared<StagedWork>(
      std::move(work), std::vector<std::pair<at::Tensor, at::Tensor>>{{out, host_out}});
}

std::shared_ptr<Work> HostStagingCommunicator::all_to_all(at::Tensor& out,
                                                          const at::Tensor& in,
                                                          const std::vector<int64_t>& recv_counts,
                                                          const std::vector<int64_t>& send_counts,
                                                          const AllToAllOptions& options) {
  if (!staged(out) && !staged(in)) {
    return inner_->all_to_all(out, in, recv_counts, send_counts, options);
  }
  at::Tensor host_out = host_like(out);  // [sum(recv_counts), ...]
  auto work = inner_->all_to_all(host_out, host_copy(in), recv_counts, send_counts, options);
  return std::make_shared<StagedWork>(
      std::move(work), std::vector<std::pair<at::Tensor, at::Tensor>>{{out, host_out}});
}

std::shared_ptr<Work> HostStagingCommunicator::exchange_blocks(
    const std::vector<at::Tensor>& outs,
    const std::vector<at::Tensor>& ins,
    const std::vector<BlockTransfer>& recvs,
    const std::vector<BlockTransfer>& sends,
    const AllToAllOptions& options) {
  bool any_staged = false;
  for (const at::Tensor& t : ins) any_staged = any_staged || staged(t);
  for (const at::Tensor& t : outs) any_staged = any_staged || staged(t);
  if (!any_staged) return inner_->exchange_blocks(outs, ins, recvs, sends, options);
  std::vector<at::Tensor> host_ins;
  for (const at::Tensor& t : ins) host_ins.push_back(host_copy(t));
  // Copies, not empty buffers: the blocks may cover only part of an output, and the rest must
  // come back unchanged.
  std::vector<at::Tensor> host_outs;
  std::vector<std::pair<at::Tensor, at::Tensor>> results;
  for (const at::Tensor& t : outs) {
    host_outs.push_back(host_copy(t));
    results.emplace_back(t, host_outs.back());
  }
  auto work = inner_->exchange_blocks(host_outs, host_ins, recvs, sends, options);
  return std::make_shared<StagedWork>(std::move(work), std::move(results));
}

std::shared_ptr<Work> HostStagingCommunicator::broadcast(at::Tensor& tensor,
                                                         int root,
                                                         const BroadcastOptions& options) {
  if (!staged(tensor)) return inner_->broadcast(tensor, root, options);
  at::Tensor host = host_copy(tensor);
  auto work = inner_->broadcast(host, root, options);
  return std::make_shared<StagedWork>(
      std::move(work), std::vector<std::pair<at::Tensor, at::Tensor>>{{tensor, host}});
}

std::shared_ptr<Work> HostStagingCommunicator::barrier(const BarrierOptions& options) {
  return inner_->barrier(options);
}

std::shared_ptr<Communicator> HostStagingCommunicator::split(int color,
                                                             int key,
                                                             const std::string& name) {
  return std::make_shared<HostStagingCommunicator>(inner_->split(color, key, name), always_stage_);
}

}  // namespace switchyard::comm
