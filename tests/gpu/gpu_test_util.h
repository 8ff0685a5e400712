// Helpers of the gpu-labelled MPI tests: the number of CUDA devices this process sees, and a skip
// that every rank of MPI_COMM_WORLD takes together (a rank that skipped a collective test while
// the others ran it would leave them waiting for it until the timeout).
#pragma once

#include <mpi.h>

#include <gtest/gtest.h>
#include <torch/cuda.h>

namespace switchyard::testing {

// CUDA devices visible to LibTorch in this process: 0 without a GPU or without a driver.
inline int visible_cuda_devices() { return static_cast<int>(torch::cuda::device_count()); }

// The smallest visible_cuda_devices() over MPI_COMM_WORLD (collective), so that every rank takes
// the same skip decision even where ranks see different devices (CUDA_VISIBLE_DEVICES per rank).
inline int min_visible_cuda_devices_over_world() {
  int mine = visible_cuda_devices();
  int least = 0;
  MPI_Allreduce(&mine, &least, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return least;
}

}  // namespace switchyard::testing

// In a test body or SetUp: GTEST_SKIP (on every rank alike) unless every rank sees at least `n`
// CUDA devices. Collective over MPI_COMM_WORLD.
#define SY_SKIP_UNLESS_CUDA_DEVICES(n, why)                                                      \
  do {                                                                                           \
    const int sy_devices_ = ::switchyard::testing::min_visible_cuda_devices_over_world();        \
    if (sy_devices_ < (n)) {                                                                     \
      GTEST_SKIP() << "needs " << (n) << " visible CUDA device(s), " << sy_devices_ << " seen (" \
                   << why << ")";                                                                \
    }                                                                                            \
  } while (false)
