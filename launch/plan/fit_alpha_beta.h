// File: launch/plan/fit_alpha_beta.h
//
// Least-squares fit of the link figures to measured exchange times. The cost model is linear in
// the per-message latency alpha (s), the inverse bandwidth 1/beta (s/byte) and the per-phase
// overhead o (s) when intra- and inter-node traffic share one host (the calibration case):
//   t = alpha x a + (1/beta) x b + o x c
// where a, b, c are the model's own times for unit figures (alpha = 1 s, ...). The fit minimizes
// the relative error sum ((t_model - t) / t)^2, so 1 KiB and 4 MiB points weigh alike; a
// coefficient that comes out negative is fixed at 0 and the rest refitted.
#pragma once

#include <vector>

namespace switchyard::plan {

struct LinearSample {
  double a = 0, b = 0, c = 0;  // model terms for unit alpha, 1/beta, overhead
  double measured_s = 0;
};

struct AlphaBetaFit {
  double alpha_s = 0;
  double inv_bandwidth_s_per_byte = 0;
  double overhead_s = 0;
  double median_abs_rel_error = 0;
  double max_abs_rel_error = 0;
};

AlphaBetaFit fit_alpha_beta(const std::vector<LinearSample>& samples);

}  // namespace switchyard::plan
