// File: launch/plan_calibrate.h
//
// `switchyard plan --calibrate --out FILE`: runs `switchyard bench a2a` (R ranks as 2 emulated
// nodes) and `switchyard bench moe-layer` (the same R single-threaded ranks, T 1024, d 256,
// F 1024, E 8, top-2, dropless) on this machine under mpirun, fits the link figures (alpha,
// beta, per-phase overhead; launch/plan/fit_alpha_beta.h) to the flat, hierarchical and leader
// exchange times and the host's GEMM throughput to the dense GEMM chains of the R ranks,
// measures the memory bandwidth as the rate of the host's element-wise operators, checks the
// prediction of the MoE layer against its measurement, and writes (atomically) the base cluster
// file with those figures.
#pragma once

#include <string>

namespace switchyard::launch {

struct CalibrateArgs {
  std::string out;
  std::string base = "this_machine";  // preset or file the other figures come from
  int ranks = 4;
  int iters = 10;
  // Fit to these outputs of `bench a2a --json` (run with ranks_per_node = ranks / 2) and
  // `bench moe-layer --json` (the shape above; its "ranks" as 2 emulated nodes, or 1 rank)
  // instead of running the benchmarks.
  std::string from_a2a;
  std::string from_moe;
};

int run_calibrate(const CalibrateArgs& args);

}  // namespace switchyard::launch
