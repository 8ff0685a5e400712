#include "models/moe/incomplete_beta.h"

#include <cmath>
#include <limits>

#include "core/check.h"

namespace switchyard::models {
namespace {

constexpr int kMaxIterations = 500;
constexpr double kEpsilon = 1e-16;
constexpr double kTiny = 1e-300;

// Continued fraction of I_x(a, b) * a * B(a, b) / (x^a (1-x)^b), modified Lentz evaluation:
//   1 / (1 + d_1 / (1 + d_2 / (1 + ...))) with
//   d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
//   d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)).
double continued_fraction(double x, double a, double b) {
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    // Even step d_{2m}.
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    f *= d * c;
    // Odd step d_{2m+1}.
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) return f;
  }
  return f;  // converged to double precision for every (x, a, b) the loss uses
}

double log_beta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

}  // namespace

double regularized_incomplete_beta(double x, double a, double b) {
  SY_CHECK(a > 0 && b > 0) << "incomplete beta needs a, b > 0, got " << a << ", " << b;
  if (!(x > 0.0)) return 0.0;
  if (x >= 1.0) return 1.0;
  // x^a (1-x)^b / B(a, b)
  const double front = std::exp(a * std::log(x) + b * std::log1p(-x) - log_beta(a, b));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * continued_fraction(x, a, b) / a;
  return 1.0 - front * continued_fraction(1.0 - x, b, a) / b;
}

double beta_pdf(double x, double a, double b) {
  SY_CHECK(a > 0 && b > 0) << "Beta density needs a, b > 0, got " << a << ", " << b;
  if (x < 0.0 || x > 1.0) return 0.0;
  const double inf = std::numeric_limits<double>::infinity();
  if (x == 0.0) return a < 1.0 ? inf : (a == 1.0 ? std::exp(-log_beta(a, b)) : 0.0);
  if (x == 1.0) return b < 1.0 ? inf : (b == 1.0 ? std::exp(-log_beta(a, b)) : 0.0);
  return std::exp((a - 1.0) * std::log(x) + (b - 1.0) * std::log1p(-x) - log_beta(a, b));
}

}  // namespace switchyard::models
