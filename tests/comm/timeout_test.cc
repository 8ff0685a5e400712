// One rank skips a collective: every other rank gets CommTimeoutError, naming backend,
// operation, rank, sequence number and group, within the timeout plus a small margin, and the
// test process exits (the abandoned request is leaked, never waited for).
#include <mpi.h>

#include <chrono>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/comm_error.h"
#include "comm/mpi/mpi_communicator.h"

namespace switchyard::comm {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTimeout{1500};
constexpr std::chrono::milliseconds kMargin{1500};

TEST(CommTimeout, SkippedCollectiveThrowsTypedTimeout) {
  MpiCommunicatorOptions options;
  options.name = "timeout_group";
  options.timeout = kTimeout;
  options.on_timeout = TimeoutAction::kThrow;
  auto comm = MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
  const int skipper = comm->size() - 1;
  at::Tensor warmup = at::ones({4}, at::kFloat);
  comm->all_reduce(warmup)->wait();  // #0 completes on every rank
  if (comm->rank() != skipper) {
    at::Tensor t = at::ones({4}, at::kFloat);
    const auto start = Clock::now();
    try {
      comm->all_reduce(t)->wait();  // #1: the skipper never joins
      FAIL() << "collective completed without the skipping rank";
    } catch (const CommTimeoutError& e) {
      const auto elapsed = Clock::now() - start;
      EXPECT_GE(elapsed, kTimeout);
      EXPECT_LE(elapsed, kTimeout + kMargin);
      EXPECT_EQ(e.context().backend, "mpi");
      EXPECT_EQ(e.context().op, "all_reduce");
      EXPECT_EQ(e.context().seq, 1);
      EXPECT_EQ(e.context().rank, comm->rank());
      EXPECT_EQ(e.context().group, "timeout_group");
      EXPECT_EQ(e.timeout(), kTimeout);
      EXPECT_THAT(e.what(), HasSubstr("mpi all_reduce #1 on group 'timeout_group' (rank "));
      EXPECT_THAT(e.what(), HasSubstr("timed out after 1500 ms"));
    }
    EXPECT_TRUE(comm->broken());
    at::Tensor again = at::ones({1}, at::kFloat);
    EXPECT_THROW(comm->all_reduce(again), CommError);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(CommTimeout, WaitTimeoutArgumentOverridesOperationTimeout) {
  MpiCommunicatorOptions options;
  options.name = "short_wait";
  options.timeout = std::chrono::milliseconds(600000);
  auto comm = MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
  if (comm->rank() != 0) {
    const auto start = Clock::now();
    EXPECT_THROW(comm->barrier()->wait(std::chrono::milliseconds(300)), CommTimeoutError);
    EXPECT_LE(Clock::now() - start, std::chrono::milliseconds(300) + kMargin);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace switchyard::comm
