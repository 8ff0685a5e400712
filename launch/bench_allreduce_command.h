// File: launch/bench_allreduce_command.h
//
// `switchyard bench allreduce`: the gradient all-reduce benchmark (a sub-benchmark of
// `switchyard bench`, see bench_command.cc).
#pragma once

#include <string>
#include <vector>

namespace switchyard::launch {

// args[0] = "bench", args[1] = "allreduce", then options. Returns the exit code.
int run_bench_allreduce(const std::vector<std::string>& args);

}  // namespace switchyard::launch
