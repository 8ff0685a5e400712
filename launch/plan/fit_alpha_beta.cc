#include "launch/plan/fit_alpha_beta.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace switchyard::plan {
namespace {

// Solves the weighted least squares over the active coefficients (Gaussian elimination on the
// normal equations, at most 3 x 3).
std::array<double, 3> solve(const std::vector<LinearSample>& s, const std::array<bool, 3>& on) {
  double m[3][4] = {};
  for (const LinearSample& x : s) {
    const double w = 1.0 / x.measured_s;
    const double row[3] = {x.a * w, x.b * w, x.c * w};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) m[i][j] += row[i] * row[j];
      m[i][3] += row[i] * 1.0;  // measured x w = 1
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (!on[i]) {
      for (int j = 0; j < 4; ++j) m[i][j] = 0;
      for (int j = 0; j < 3; ++j) m[j][i] = 0;
      m[i][i] = 1;
    }
  }
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 3; ++r) {
      if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
    }
    for (int j = 0; j < 4; ++j) std::swap(m[col][j], m[pivot][j]);
    if (std::fabs(m[col][col]) < 1e-300) continue;
    for (int r = 0; r < 3; ++r) {
      if (r == col) continue;
      const double f = m[r][col] / m[col][col];
      for (int j = col; j < 4; ++j) m[r][j] -= f * m[col][j];
    }
  }
  std::array<double, 3> x{};
  for (int i = 0; i < 3; ++i) x[i] = on[i] && m[i][i] != 0 ? m[i][3] / m[i][i] : 0;
  return x;
}

}  // namespace

AlphaBetaFit fit_alpha_beta(const std::vector<LinearSample>& samples) {
  std::array<bool, 3> on = {true, true, true};
  std::array<double, 3> x{};
  for (int round = 0; round < 3; ++round) {
    x = solve(samples, on);
    bool changed = false;
    for (int i = 0; i < 3; ++i) {
      if (on[i] && x[i] < 0) {
        on[i] = false;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (double& v : x) v = std::max(0.0, v);
  AlphaBetaFit fit{x[0], x[1], x[2], 0, 0};
  std::vector<double> errors;
  for (const LinearSample& s : samples) {
    const double model = x[0] * s.a + x[1] * s.b + x[2] * s.c;
    errors.push_back(std::fabs(model - s.measured_s) / s.measured_s);
  }
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    fit.median_abs_rel_error = errors[errors.size() / 2];
    fit.max_abs_rel_error = errors.back();
  }
  return fit;
}

}  // namespace switchyard::plan
