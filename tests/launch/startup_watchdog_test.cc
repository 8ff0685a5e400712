// launch/startup_watchdog.h: the deadline on a rank's start-up, in one process.
#include "launch/startup_watchdog.h"

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace switchyard::launch {
namespace {

using std::chrono::milliseconds;

TEST(StartupWatchdogDeathTest, EndsTheProcessWithOneLineNamingRankAndPhase) {
  EXPECT_EXIT(
      {
        StartupWatchdog watchdog(3, milliseconds(200));
        watchdog.phase("communicator duplication (MPI_Comm_dup)");
        std::this_thread::sleep_for(std::chrono::seconds(30));  // a peer that never arrives
      },
      ::testing::ExitedWithCode(1),
      "^switchyard: rank 3: fatal: start-up did not finish within comm.timeout_ms = 200 ms, "
      "stuck in communicator duplication \\(MPI_Comm_dup\\) \\(a rank died or never "
      "arrived\\); ending the job\n$");
}

TEST(StartupWatchdog, DisarmedByTheFirstStepItNeverFires) {
  const auto start = std::chrono::steady_clock::now();
  {
    StartupWatchdog watchdog(0, milliseconds(100));
    watchdog.phase("model build");
    watchdog.disarm();
    std::this_thread::sleep_for(milliseconds(300));  // past the deadline: still alive
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));
}

TEST(StartupWatchdog, EachPhaseGetsTheWholeTimeout) {
  const auto start = std::chrono::steady_clock::now();
  {
    StartupWatchdog watchdog(0, milliseconds(300));
    for (int i = 0; i < 4; ++i) {  // 4 x 200 ms of phases: longer than one timeout in total
      watchdog.phase("phase " + std::to_string(i));
      std::this_thread::sleep_for(milliseconds(200));
    }
    watchdog.disarm();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(800));
}

TEST(StartupWatchdog, DestroyedBeforeTheDeadlineReturnsAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  { StartupWatchdog watchdog(0, std::chrono::hours(1)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace switchyard::launch
