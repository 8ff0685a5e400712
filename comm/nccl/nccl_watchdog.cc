#include "comm/nccl/nccl_watchdog.h"

namespace switchyard::comm {

NcclWatchdog::NcclWatchdog(std::chrono::milliseconds interval,
                           std::function<void(NcclPendingOp&)> on_overdue)
    : interval_(interval), on_overdue_(std::move(on_overdue)), thread_([this] { run(); }) {}

NcclWatchdog::~NcclWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void NcclWatchdog::track(NcclPendingOp op) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back(std::move(op));
}

void NcclWatchdog::abandon() {
  std::lock_guard<std::mutex> lock(mutex_);  // free: on_overdue runs without the lock
  stop_ = true;
}

void NcclWatchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, interval_);
    const auto now = std::chrono::steady_clock::now();
    std::vector<NcclPendingOp> overdue;
    for (size_t i = 0; i < pending_.size();) {
      NcclPendingOp& op = pending_[i];
      const cudaError_t state = cudaEventQuery(*op.end);
      const bool finished =
          state != cudaErrorNotReady;  // complete, or failed (the Work reports it)
      const bool late = !finished && now >= op.deadline;
      if (late) overdue.push_back(std::move(op));
      if (finished || late) {
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    if (overdue.empty()) continue;
    // The handler aborts the communicator and may end the process: it runs without the lock, so
    // a thread issuing an operation (track()) is never blocked behind it.
    lock.unlock();
    for (NcclPendingOp& op : overdue) on_overdue_(op);
    lock.lock();  // an abandoned watchdog's object stays alive (leaked) for this
  }
}

}  // namespace switchyard::comm
