// A deliberately failing MPI test: it fails on rank 1 only. It is not a test of its own; the
// harness test runs it and checks that the whole run reports the failure (see CMakeLists.txt).
#include <mpi.h>

#include <gtest/gtest.h>

TEST(FailingRankProbe, FailsOnRankOneOnly) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  EXPECT_NE(rank, 1) << "deliberate failure on rank 1";
}

TEST(FailingRankProbe, PassesEverywhere) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_GE(size, 2);
}
