// Rank and size of MPI_COMM_WORLD for the MPI tests (after mpi_gtest_main.cc's MPI_Init).
#pragma once

#include <mpi.h>

namespace switchyard::testing {

inline int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace switchyard::testing
