// File: comm/mpi/mpi_communicator.h
//
// MpiCommunicator: the default backend, on contiguous CPU LibTorch tensors (float32, bfloat16,
// float64, int64, int32).
//
// Every operation is non-blocking (MPI_Iallreduce, MPI_Iallgather, MPI_Irecv/MPI_Isend per
// non-empty peer for the all-to-all, MPI_Ibcast, MPI_Ibarrier) and returns an MpiWork;
// MpiWork::wait polls MPI_Testall against the
// deadline, yielding and then sleeping between polls so that oversubscribed ranks do not burn the
// cores. On expiry: TimeoutAction::kThrow -> CommTimeoutError, communicator broken (the pending
// requests and their buffers are kept alive, never freed: MPI forbids freeing an active collective
// request); TimeoutAction::kAbort -> one line on stderr, then MPI_Abort(MPI_COMM_WORLD).
//
// The communicator owns its MPI_Comm (a duplicate or split, error handler MPI_ERRORS_RETURN so
// that SY_MPI_CHECK sees error codes) and frees it on destruction unless it is broken.
// MPI must be initialized before construction and finalized after destruction. Calls from
// several threads need MPI_THREAD_MULTIPLE; the collective-ordering contract of Communicator holds.
#pragma once

#include <mpi.h>

#include <chrono>
#include <memory>
#include <string>

#include "comm/communicator.h"

namespace switchyard::comm {

struct MpiCommunicatorOptions {
  std::string name = "world";  // peer-group name in errors
  std::chrono::milliseconds timeout = kDefaultTimeout;
  TimeoutAction on_timeout = TimeoutAction::kThrow;
  // Exit code passed to MPI_Abort on a timeout with TimeoutAction::kAbort.
  int abort_exit_code = 124;
  // Polling of Work::wait: MPI_Test + yield for spin_duration (progress needs MPI_Test calls:
  // sleeping during a transfer stalls the peers too), then MPI_Test + sleep, doubling from
  // min_sleep to max_sleep, for operations that are already late (a slow or missing peer).
  std::chrono::microseconds spin_duration{50000};
  std::chrono::microseconds min_sleep{100};
  std::chrono::microseconds max_sleep{1000};
  // Accept CUDA tensors (a CUDA-aware MPI library reads device memory itself; see
  // comm/backend_choice.h). Before an operation posts a device buffer, the device is synchronized
  // so that the kernels writing it have finished. False: a device tensor is a CommError.
  bool device_buffers = false;
};

class MpiCommunicator : public Communicator {
 public:
  // Collective over `comm`: duplicates it (the duplicate is owned).
  static std::shared_ptr<MpiCommunicator> duplicate(MPI_Comm comm,
                                                    const MpiCommunicatorOptions& options = {});
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override;
  int size() const override;
  std::string_view backend_name() const override { return "mpi"; }
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
  std::shared_ptr<Communicator> split(int color, int key, const std::string& name) override;

  // The underlying communicator (for raw MPI in tests and benchmarks; do not free).
  MPI_Comm mpi_comm() const;
  // True after a timeout with TimeoutAction::kThrow.
  bool broken() const;

  struct State;  // shared with the MpiWork objects; defined in mpi_communicator.cc

 private:
  explicit MpiCommunicator(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace switchyard::comm
