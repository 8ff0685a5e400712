// gtest main for tests run under mpiexec.
//
// Every rank runs every test. Rank 0 prints gtest's usual report; the other ranks print only
// their failures, prefixed with their rank. After the run the ranks agree on the result, so a
// failure on any one rank makes every rank (and so mpiexec and ctest) fail.
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  // (gtest holds its lock during OnTestPartResult, so the name is recorded here.)
  void OnTestStart(const testing::TestInfo& info) override {
    test_ = std::string(info.test_suite_name()) + "." + info.name();
  }
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s at %s:%d\n%s\n", rank_, test_.c_str(),
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.message());
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string test_;
};

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  testing::InitGoogleTest(&argc, argv);
  testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new RankFailurePrinter(rank));

  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  // [size] failure flags, so rank 0 can name the failing ranks.
  std::vector<int> failed(size, 0);
  MPI_Allgather(&local_failed, 1, MPI_INT, failed.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int any_failed = 0;
  for (int f : failed) any_failed |= f;
  if (rank == 0) {
    std::fprintf(stderr, "[mpi] %d ranks: ", size);
    if (!any_failed) std::fprintf(stderr, "all passed\n");
    for (int r = 0; r < size; ++r) {
      if (failed[r]) std::fprintf(stderr, "rank %d failed; ", r);
    }
    if (any_failed) std::fprintf(stderr, "\n");
  }
  MPI_Finalize();
  return any_failed ? 1 : 0;
}
