// File: comm/host_staging_communicator.h
//
// HostStagingCommunicator: lets a host-memory backend (MPI without CUDA support) carry device
// tensors. Every operation whose tensors live on a device copies them into host buffers, runs
// the wrapped communicator's operation on those, and copies the results back into the device
// tensors when the Work completes (is_completed() true or wait() returned). CPU tensors pass
// straight through, so on a CPU run it costs nothing.
//
// This is the simple, always-correct multi-rank path for CUDA runs on the MPI backend: two
// PCIe copies per collective. NCCL (comm/nccl/) is the fast one.
//
// Communicators made by split() are staged too. `always_stage` stages CPU tensors as well
// (tests exercise the copy path on machines without a device).
#pragma once

#include <memory>

#include "comm/communicator.h"

namespace switchyard::comm {

class HostStagingCommunicator final : public Communicator {
 public:
  explicit HostStagingCommunicator(std::shared_ptr<Communicator> inner, bool always_stage = false);

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string_view backend_name() const override { return inner_->backend_name(); }
  const std::string& name() const override { return inner_->name(); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }

  std::shared_ptr<Work> all_reduce(at::Tensor& tensor, const AllReduceOptions& options) override;
  std::shared_ptr<Work> all_gather(at::Tensor& out,
                                   const at::Tensor& in,
                                   const AllGatherOptions& options) override;
  std::shared_ptr<Work> all_to_all(at::Tensor& out,
                                   const at::Tensor& in,
                                   const std::vector<int64_t>& recv_counts,
                                   const std::vector<int64_t>& send_counts,
                                   const AllToAllOptions& options) override;
  std::shared_ptr<Work> exchange_blocks(const std::vector<at::Tensor>& outs,
                                        const std::vector<at::Tensor>& ins,
                                        const std::vector<BlockTransfer>& recvs,
                                        const std::vector<BlockTransfer>& sends,
                                        const AllToAllOptions& options = {}) override;
  std::shared_ptr<Work> broadcast(at::Tensor& tensor,
                                  int root,
                                  const BroadcastOptions& options) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& options) override;
  std::shared_ptr<Communicator> split(int color, int key, const std::string& name) override;

  const std::shared_ptr<Communicator>& inner() const { return inner_; }

 private:
  bool staged(const at::Tensor& t) const { return always_stage_ || !t.device().is_cpu(); }

  std::shared_ptr<Communicator> inner_;
  bool always_stage_;
};

}  // namespace switchyard::comm
