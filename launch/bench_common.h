// File: launch/bench_common.h
//
// Command-line parsing shared by the `switchyard bench` sub-benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/program_options/options_description.hpp>

#include "comm/mpi/mpi_communicator.h"

namespace switchyard::launch {

// Parses args[2..] (after "bench NAME") into the variables bound in `options`. If `help` (bound to
// --help) is then set, prints `usage`, `summary` and the options and returns false: the caller
// exits 0. Unknown options and bad values throw boost's parse errors (exit 2 in the CLI).
bool parse_bench_args(const std::vector<std::string>& args,
                      const boost::program_options::options_description& options,
                      const bool& help,
                      const std::string& usage,
                      const std::string& summary);

// MPI_COMM_WORLD duplicated as "world" with a 120 s timeout that aborts the job (a benchmark
// that hangs is a failed benchmark). Collective; MPI must be initialized.
std::shared_ptr<comm::MpiCommunicator> bench_world_communicator();

}  // namespace switchyard::launch
