// Hand-computed aux-loss values (ALGORITHMS.md §7.1-7.5) and float64 finite-difference gradients.
#include "models/moe/aux_losses.h"

#include <cmath>
#include <functional>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace switchyard::models {
namespace {

at::Tensor f64(std::vector<double> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kDouble).view(shape);
}
at::Tensor ids(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kLong).view(shape);
}

TEST(LoadBalancingLoss, UniformRoutingGivesOne) {
  at::Tensor scores = at::full({4, 4}, 0.25, at::kDouble);
  EXPECT_NEAR(load_balancing_loss(scores, ids({0, 1, 2, 3}, {4, 1}), 1).item<double>(), 1.0, 1e-12);
}

TEST(LoadBalancingLoss, AllTokensOnOneExpertGivesE) {
  at::Tensor scores = at::zeros({5, 4}, at::kDouble);
  scores.select(1, 2).fill_(1.0);
  EXPECT_NEAR(load_balancing_loss(scores, at::full({5, 1}, 2, at::kLong), 1).item<double>(), 4.0,
              1e-12);
}

TEST(LoadBalancingLoss, HandComputedTop1AndTop2) {
  // E=2, k=1: f = [1, 0], P = [0.55, 0.45] -> 2 * 0.55 = 1.1
  at::Tensor s = f64({0.7, 0.3, 0.4, 0.6}, {2, 2});
  EXPECT_NEAR(load_balancing_loss(s, ids({0, 0}, {2, 1}), 1).item<double>(), 1.1, 1e-12);
  // E=3, k=2, T=2: counts [1, 2, 1], sum_x p = [0.6, 0.9, 0.5] -> 3 / (2 * 4) * 2.9 = 1.0875
  at::Tensor s2 = f64({0.5, 0.3, 0.2, 0.1, 0.6, 0.3}, {2, 3});
  EXPECT_NEAR(load_balancing_loss(s2, ids({0, 1, 1, 2}, {2, 2}), 2).item<double>(), 1.0875, 1e-12);
  // Empty slots (-1) are not counted: same as k' = 1 with the first column.
  EXPECT_NEAR(load_balancing_loss(s, ids({0, -1, 0, -1}, {2, 2}), 1).item<double>(), 1.1, 1e-12);
}

TEST(LoadBalancingLoss, GroupsAverageTheirLosses) {
  at::Tensor s = f64({0.7, 0.3, 0.4, 0.6, 0.5, 0.5, 0.9, 0.1}, {4, 2});
  at::Tensor i = ids({0, 0, 1, 0}, {4, 1});
  const double g0 = load_balancing_loss(s.narrow(0, 0, 2), i.narrow(0, 0, 2), 1).item<double>();
  const double g1 = load_balancing_loss(s.narrow(0, 2, 2), i.narrow(0, 2, 2), 1).item<double>();
  EXPECT_NEAR(load_balancing_loss(s, i, 1, {2, 2}).item<double>(), (g0 + g1) / 2, 1e-12);
  // An empty group is skipped.
  EXPECT_NEAR(load_balancing_loss(s, i, 1, {0, 4}).item<double>(),
              load_balancing_loss(s, i, 1).item<double>(), 1e-12);
}

TEST(SequenceLoadBalancingLoss, HandComputedDeepSeekV3) {
  // Sigmoid scores, normalized per token. Sequence 1: s' = [[.75,.25],[.25,.75]], both pick 0:
  // f = [2, 0], P = [.5, .5] -> 1.0. Sequence 2: s' = [[.5,.5],[.8,.2]], both pick 1: f = [0, 2],
  // P = [.65, .35] -> 0.7. Mean 0.85.
  at::Tensor s = f64({0.9, 0.3, 0.2, 0.6, 0.5, 0.5, 0.8, 0.2}, {4, 2});
  EXPECT_NEAR(sequence_load_balancing_loss(s, ids({0, 0, 1, 1}, {4, 1}), 1, 2).item<double>(), 0.85,
              1e-12);
  // Uniform selection and uniform normalized scores -> 1 (alpha excluded).
  at::Tensor u = at::full({4, 4}, 0.3, at::kDouble);
  EXPECT_NEAR(
      sequence_load_balancing_loss(u, ids({0, 1, 2, 3, 1, 0, 3, 2}, {4, 2}), 2, 4).item<double>(),
      1.0, 1e-12);
}

TEST(ZLoss, HandComputed) {
  // Rows with logsumexp 0 -> 0.
  at::Tensor zero = at::full({3, 4}, -std::log(4.0), at::kDouble);
  EXPECT_NEAR(z_loss(zero).item<double>(), 0.0, 1e-12);
  // [[0, 0], [1, 2]]: (ln 2)^2 and ln(e + e^2)^2, mean.
  at::Tensor z = f64({0, 0, 1, 2}, {2, 2});
  const double a = std::log(2.0);
  const double b = std::log(std::exp(1.0) + std::exp(2.0));
  EXPECT_NEAR(z_loss(z).item<double>(), (a * a + b * b) / 2, 1e-12);
  // A constant shift c of a row changes its lse by exactly c.
  at::Tensor shifted = z.clone();
  shifted[0] += 3.0;
  const double a3 = a + 3.0;
  EXPECT_NEAR(z_loss(shifted).item<double>(), (a3 * a3 + b * b) / 2, 1e-12);
}

// Central finite differences of a scalar function of x, against autograd.
void expect_gradient_matches(const std::function<at::Tensor(const at::Tensor&)>& f, at::Tensor x) {
  x = x.clone().set_requires_grad(true);
  f(x).backward();
  at::Tensor analytic = x.grad().clone();
  at::Tensor numeric = at::zeros_like(analytic);
  const double eps = 1e-6;
  at::Tensor base = x.detach();
  for (int64_t i = 0; i < base.numel(); ++i) {
    at::Tensor plus = base.clone();
    at::Tensor minus = base.clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    numeric.view(-1)[i] = (f(plus).item<double>() - f(minus).item<double>()) / (2 * eps);
  }
  EXPECT_TRUE(at::allclose(analytic, numeric, 1e-6, 1e-8)) << "analytic\n"
                                                           << analytic << "\nnumeric\n"
                                                           << numeric;
}

TEST(AuxLossGradients, FiniteDifferencesFloat64) {
  at::Tensor logits = at::randn({6, 4}, at::kDouble);
  at::Tensor top = ids({0, 1, 2, 1, 3, 0, 1, 2, 0, 3, 2, 2}, {6, 2});
  expect_gradient_matches(
      [&](const at::Tensor& z) { return load_balancing_loss(at::softmax(z, -1), top, 2); }, logits);
  expect_gradient_matches(
      [&](const at::Tensor& z) {
        return load_balancing_loss(at::softmax(z, -1), top, 2, {2, 4});
      },
      logits);
  expect_gradient_matches(
      [&](const at::Tensor& z) { return sequence_load_balancing_loss(at::sigmoid(z), top, 2, 3); },
      logits);
  expect_gradient_matches([&](const at::Tensor& z) { return z_loss(z, {3, 3}); }, logits);
}

TEST(ZLoss, GradientFormula) {
  // dL/dz_ij = (2 / B) * lse_i * softmax_ij
  at::Tensor z = at::randn({5, 3}, at::kDouble).set_requires_grad(true);
  z_loss(z).backward();
  at::Tensor expected =
      2.0 / 5.0 * at::logsumexp(z.detach(), {1}, true) * at::softmax(z.detach(), -1);
  EXPECT_TRUE(at::allclose(z.grad(), expected, 1e-10, 1e-12));
}

TEST(LoadBalancingLoss, GradientOnlyThroughScores) {
  // d/dp of E/(k T^2) sum_i P_sum_i count_i = E/(k T^2) count_i for every token.
  at::Tensor p = at::full({2, 2}, 0.5, at::kDouble).set_requires_grad(true);
  load_balancing_loss(p, ids({0, 0}, {2, 1}), 1).backward();
  // p is normalized per token inside (a no-op for rows summing to 1), so the gradient is
  // projected: g = c - (c . p) for each row with c = [2/4 * 2, 0] = [1, 0] -> [0.5, -0.5].
  EXPECT_TRUE(at::allclose(p.grad(), f64({0.5, -0.5, 0.5, -0.5}, {2, 2}), 1e-12, 1e-12))
      << p.grad();
}

}  // namespace
}  // namespace switchyard::models
