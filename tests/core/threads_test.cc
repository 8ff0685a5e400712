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
    // The suite requires OpenBLAS (libopenblas0-pthread) or a LibTorch with its own BLAS (MKL):
    // with neither, LibTorch falls back to the reference BLAS, ~30x slower.
    EXPECT_EQ(blas_threads(), n) << "no OpenBLAS and no BLAS inside LibTorch, or its pool not set";
  }
}

TEST(Threads, DefaultsToOneIntraOpThread) {
  set_compute_threads(2);
  // LibTorch with its own BLAS (MKL) runs matrix products in its pool: it gets the BLAS threads.
  EXPECT_EQ(torch_threads(), torch_has_own_blas() ? 2 : 1);
  EXPECT_EQ(blas_threads(), 2);
}

TEST(Threads, RejectsZero) {
  EXPECT_THROW(set_compute_threads(0), InternalError);
  EXPECT_THROW(set_compute_threads(1, 0), InternalError);
}

}  // namespace
}  // namespace switchyard
