// File: launch/bench_data_command.h
//
// `switchyard bench data-prepare` (launch/bench_data_command.cc): no MPI.
#pragma once

#include <string>
#include <vector>

namespace switchyard::launch {

int run_bench_data_prepare(const std::vector<std::string>& args);

}  // namespace switchyard::launch
