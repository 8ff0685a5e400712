// File: launch/startup_watchdog.h
//
// Bounds the start-up of a training rank. The collectives before the first training step
// (MPI_Init's exchange, the shared-memory split, communicator duplication, topology detection,
// the process-group splits, the weight broadcast, the checkpoint-load agreement) would block
// forever on a rank that died or never arrived. The watchdog is armed before MPI starts with
// `comm.timeout_ms`; each start-up phase names itself and gets that long; when the first training
// step begins it is disarmed. If a phase's deadline passes first, it prints one line naming this
// rank and the phase it is stuck in, and ends the process (exit 1) from its own thread, which makes
// the launcher (mpirun, srun) end every other rank of the job.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace switchyard::launch {

class StartupWatchdog {
 public:
  // `rank` is the launcher's rank of this process (known before MPI starts).
  StartupWatchdog(int rank, std::chrono::milliseconds timeout);
  ~StartupWatchdog();
  StartupWatchdog(const StartupWatchdog&) = delete;
  StartupWatchdog& operator=(const StartupWatchdog&) = delete;

  // The start-up operation now running (e.g. "communicator duplication (MPI_Comm_dup)"): it
  // gets its own comm.timeout_ms from now, like every collective after start-up.
  void phase(const std::string& name);

  // Start-up is over (the first training step begins): the watchdog stops.
  void disarm();

 private:
  void watch();

  const int rank_;
  const std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;  // the current phase's
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string phase_ = "start";
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace switchyard::launch
