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

void NcclWatchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, interval_);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < pending_.size();) {
      NcclPendingOp& op = pending_[i];
      const cudaError_t state = cudaEventQuery(*op.end);
      bool drop = state != cudaErrorNotReady;  // complete, or failed (the Work reports it)
      if (!drop && now >= op.deadline) {
        on_overdue_(op);
        drop = true;
      }
      if (drop) {
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
}

}  // namespace switchyard::comm
