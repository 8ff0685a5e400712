#include "core/threads.h"

#include <gtest/gtest.h>

#include "core/errors.h"

namespace switchyard {
namespace {

TEST(Threads, DefaultSplitsCoresAmongRanks) {
  EXPECT_EQ(default_threads_per_rank(8, 4), 2);
  EXPECT_EQ(default_threads_per_rank(2, 4), 1);  // never 0
  EXPECT_EQ(default_threads_per_rank(2, 1), 2);
  EXPECT_THROW(default_threads_per_rank(2, 0), InternalError);
}

TEST(Threads, SetsBothPools) {
  for (int n : {1, 2, 1}) {
    set_compute_threads(n, n);
    EXPECT_EQ(torch_threads(), n);
    // The suite requires OpenBLAS (libopenblas0-pthread): without it LibTorch falls back to the
    // reference BLAS, ~30x slower.
    EXPECT_EQ(blas_threads(), n) << "the BLAS in use is not OpenBLAS, or its pool was not set";
  }
}

TEST(Threads, DefaultsToOneIntraOpThread) {
  set_compute_threads(2);
  EXPECT_EQ(torch_threads(), 1);
  EXPECT_EQ(blas_threads(), 2);
}

TEST(Threads, RejectsZero) {
  EXPECT_THROW(set_compute_threads(0), InternalError);
  EXPECT_THROW(set_compute_threads(1, 0), InternalError);
}

}  // namespace
}  // namespace switchyard
