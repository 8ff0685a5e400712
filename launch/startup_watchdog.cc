#include "launch/startup_watchdog.h"

#include <cstdio>
#include <cstdlib>

#include "launch/cli.h"

namespace switchyard::launch {

StartupWatchdog::StartupWatchdog(int rank, std::chrono::milliseconds timeout)
    : rank_(rank),
      timeout_(timeout),
      deadline_(std::chrono::steady_clock::now() + timeout),
      thread_([this] { watch(); }) {}

StartupWatchdog::~StartupWatchdog() {
  disarm();
  if (thread_.joinable()) thread_.join();
}

void StartupWatchdog::phase(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = name;
    deadline_ = std::chrono::steady_clock::now() + timeout_;
  }
  wake_.notify_all();
}

void StartupWatchdog::disarm() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    disarmed_ = true;
  }
  wake_.notify_all();
}

void StartupWatchdog::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!disarmed_ && std::chrono::steady_clock::now() < deadline_) {
    wake_.wait_until(lock, deadline_);  // woken early by a new phase (new deadline) or disarm
  }
  if (disarmed_) return;
  // The main thread is blocked inside MPI (maybe inside MPI_Init): calling MPI from here is not
  // safe. Ending the process is: the launcher sees a rank exit without MPI_Finalize and ends the
  // job's other ranks.
  std::fprintf(stderr,
               "switchyard: rank %d: fatal: start-up did not finish within comm.timeout_ms = %lld "
               "ms, stuck in %s (a rank died or never arrived); ending the job\n",
               rank_, static_cast<long long>(timeout_.count()), phase_.c_str());
  std::fflush(stderr);
  std::_Exit(kExitFailure);
}

}  // namespace switchyard::launch
