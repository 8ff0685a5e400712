// File: comm/nccl/nccl_communicator.h   (built with SWITCHYARD_WITH_NCCL only)
//
// NcclCommunicator: collectives on CUDA device buffers (tensor.data_ptr() of CUDA tensors; works
// with any LibTorch build since it never calls LibTorch's CUDA API).
//
//   * Bootstrap: rank 0 of the MPI communicator creates the ncclUniqueId and broadcasts it over
//     MPI; every rank then calls ncclCommInitRank on `options.device`.
//   * Streams: every operation runs on the communicator's own non-blocking stream, after an
//     event recorded on the caller's stream (options.caller_stream, default the legacy default
//     stream; make_world_communicators passes LibTorch's current CUDA stream). Work::wait blocks
//     the host until the operation's end event; synchronize_stream makes the caller's stream wait
//     instead.
//   * Variable all-to-all: grouped ncclSend/ncclRecv (ncclGroupStart/End), empty peers skipped.
//   * Watchdog: a thread per communicator polls the outstanding operations; one that is overdue
//     turns into CommTimeoutError, the communicator is aborted (ncclCommAbort, so that stuck
//     kernels end) and marked broken; with TimeoutAction::kAbort the watchdog prints one line and
//     calls MPI_Abort.
//   * Threading: ops are issued by one thread at a time; the watchdog is internal.
// STATUS: compiles and links against CUDA 13 / NCCL 2.28; NOT TESTED ON A GPU (see docs/comm.md).
#pragma once

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "comm/comm_error.h"
#include "comm/communicator.h"

namespace switchyard::comm {

struct NcclCommunicatorOptions {
  std::string name = "world";
  std::chrono::milliseconds timeout = kDefaultTimeout;
  TimeoutAction on_timeout = TimeoutAction::kThrow;
  int abort_exit_code = 124;
  int device = -1;  // CUDA device; -1 = the current device
  // Stream whose prior work every operation waits for (nullptr = legacy default stream).
  std::function<cudaStream_t()> caller_stream = [] { return cudaStream_t{nullptr}; };
  std::chrono::milliseconds watchdog_interval{100};
};

class NcclCommunicator : public Communicator {
 public:
  // Collective over `bootstrap` (MPI): unique-id broadcast, then ncclCommInitRank.
  static std::shared_ptr<NcclCommunicator> create(MPI_Comm bootstrap,
                                                  const NcclCommunicatorOptions& options = {});
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override;
  int size() const override;
  std::string_view backend_name() const override { return "nccl"; }
  const std::string& name() const override;
  std::chrono::milliseconds timeout() const override;

  std::shared_ptr<Work> all_reduce(at::Tensor& tensor,
                                   const AllReduceOptions& options = {}) override;
  std::shared_ptr<Work> all_gather(at::Tensor& out,
                                   const at::Tensor& in,
                                   const AllGatherOptions& options = {}) override;
  std::shared_ptr<Work> all_to_all(at::Tensor& out,
                                   const at::Tensor& in,
                                   const std::vector<int64_t>& recv_counts,
                                   const std::vector<int64_t>& send_counts,
                                   const AllToAllOptions& options = {}) override;
  std::shared_ptr<Work> exchange_blocks(const std::vector<at::Tensor>& outs,
                                        const std::vector<at::Tensor>& ins,
                                        const std::vector<BlockTransfer>& recvs,
                                        const std::vector<BlockTransfer>& sends,
                                        const AllToAllOptions& options = {}) override;
  std::shared_ptr<Work> broadcast(at::Tensor& tensor,
                                  int root,
                                  const BroadcastOptions& options = {}) override;
  std::shared_ptr<Work> barrier(const BarrierOptions& options = {}) override;
  // ncclCommSplit; the new communicator has its own stream and watchdog.
  std::shared_ptr<Communicator> split(int color, int key, const std::string& name) override;

  bool broken() const;

  struct State;  // shared with works and the watchdog; defined in nccl_communicator.cc

 private:
  explicit NcclCommunicator(std::shared_ptr<State> state);
  // The grouped send/receive rounds of exchange_blocks and all_to_all (checked here).
  std::shared_ptr<Work> issue_blocks(const CommErrorContext& ctx,
                                     std::chrono::milliseconds timeout,
                                     const std::vector<at::Tensor>& outs,
                                     const std::vector<at::Tensor>& ins,
                                     const std::vector<BlockTransfer>& recvs,
                                     const std::vector<BlockTransfer>& sends);
  std::shared_ptr<State> state_;
};

// True when a CUDA device is usable (cudaGetDeviceCount succeeds with >= 1 device).
bool cuda_device_available();

}  // namespace switchyard::comm
