// File: launch/bench_moe_command.h
//
// `switchyard bench moe-layer`: the MoE layer benchmark (registered as a sub-benchmark of
// `switchyard bench`, see bench_command.cc).
#pragma once

#include <string>
#include <vector>

namespace switchyard::launch {

// args[0] = "bench", args[1] = "moe-layer", then options. Returns the exit code.
int run_bench_moe_layer(const std::vector<std::string>& args);

}  // namespace switchyard::launch
