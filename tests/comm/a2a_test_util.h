// Helpers of the comm MPI tests: random count matrices, deterministic inputs, and the gathered
// single-process reference all-to-all (raw MPI, independent of the code under test).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"

namespace switchyard::comm::testing {

// World communicator for tests: a duplicate of MPI_COMM_WORLD, errors thrown, 60 s timeout.
std::shared_ptr<MpiCommunicator> test_world(
    std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

// The raw MPI_Comm under a communicator built by MpiCommunicator.
MPI_Comm raw(const Communicator& comm);

// A P x P count matrix (row-major src -> dst) drawn from `rng`; `pattern` picks the shape:
// 0 uniform, 1 sparse, 2 one rank sends nothing and one receives nothing, 3 all zero,
// 4 a single non-zero entry, 5 skewed (one hot destination), 6 dense equal counts.
std::vector<int64_t> random_count_matrix(std::mt19937_64& rng, int P, int pattern);

// Deterministic [rows, hidden] input of `dtype`, different on every (seed, rank).
at::Tensor make_input(int64_t rows, int64_t hidden, at::ScalarType dtype, uint64_t seed);

// The expected all-to-all output on this rank: every rank's input is all-gathered (raw
// MPI_Allgatherv over `comm`), then the rows addressed to this rank are cut out in source order.
at::Tensor reference_all_to_all(MPI_Comm comm,
                                const at::Tensor& input,
                                const std::vector<int64_t>& count_matrix);

// Bit-exact equality (shape, dtype and bytes).
bool bitwise_equal(const at::Tensor& a, const at::Tensor& b);

}  // namespace switchyard::comm::testing
