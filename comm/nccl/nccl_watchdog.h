// File: comm/nccl/nccl_watchdog.h   (built with SWITCHYARD_WITH_NCCL only)
//
// NcclWatchdog: a background thread that polls the outstanding operations of one communicator
// (their end events) and calls `on_overdue` for every operation past its deadline, exactly once.
// Completed operations are dropped (with the tensors they kept alive). Thread-safe: track() may
// be called from the issuing thread while the watchdog runs. The destructor stops the thread.
#pragma once

#include <cuda_runtime.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/comm_error.h"

namespace switchyard::comm {

// Completion state of one operation, shared by its Work and the watchdog.
struct NcclOpStatus {
  std::mutex mutex;
  bool done = false;
  std::exception_ptr failure;
};

struct NcclPendingOp {
  std::shared_ptr<cudaEvent_t> end;  // recorded after the operation on the comm stream
  std::chrono::steady_clock::time_point deadline;
  std::chrono::milliseconds timeout{0};
  CommErrorContext context;
  std::vector<at::Tensor> tensors;  // kept alive until the operation completes
  std::shared_ptr<NcclOpStatus> status;
};

class NcclWatchdog {
 public:
  NcclWatchdog(std::chrono::milliseconds interval, std::function<void(NcclPendingOp&)> on_overdue);
  ~NcclWatchdog();
  NcclWatchdog(const NcclWatchdog&) = delete;
  NcclWatchdog& operator=(const NcclWatchdog&) = delete;

  void track(NcclPendingOp op);

  // True on the watchdog's own thread (inside on_overdue).
  bool on_watchdog_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  // For an owner destroyed from inside on_overdue (its handler held the last reference): the
  // thread ends once the handler returns, and the object must be leaked, not destroyed (a thread
  // cannot join itself). Use: `watchdog.release()->abandon()`.
  void abandon();

 private:
  void run();

  std::chrono::milliseconds interval_;
  std::function<void(NcclPendingOp&)> on_overdue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<NcclPendingOp> pending_;
  std::thread thread_;
};

}  // namespace switchyard::comm
