// The regularized incomplete beta function and Beta density against known values, and the
// Dirichlet-prior shaping loss (Mirvakhabova et al., arXiv 2510.01185) against every testable
// property of ALGORITHMS.md §3.8 (worked example, quantiles, permutation invariance, Dirichlet
// samples, gradient sign, finite differences, the pdf clip), plus the MoE-layer wiring.
#include <cmath>
#include <numeric>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "models/moe/aux_losses.h"
#include "models/moe/dpsl_loss.h"
#include "models/moe/global_aux_statistics.h"
#include "models/moe/incomplete_beta.h"
#include "models/moe/moe_builder.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

// Reference values: integer (a, b) from the exact binomial sum I_x(a, b) =
// sum_{j=a}^{a+b-1} C(a+b-1, j) x^j (1-x)^(a+b-1-j) in rational arithmetic; non-integer ones from
// mpmath.betainc(a, b, 0, x, regularized=True) at 30 digits.
struct Known {
  double x, a, b, cdf;
};
const Known kKnownCdf[] = {
    {0.3, 2, 3, 0.3483},
    {0.4, 30, 40, 0.31814380259056285},
    {0.9, 7, 2, 0.81310473000000005},
    {0.01, 1, 7, 0.067934652093010001},
    {0.43, 12, 12, 0.24757978938868083},
    {0.1, 0.75, 5.25, 0.55105033237852208},
    {0.9, 0.75, 5.25, 0.99999695495881329},
    {0.02, 0.1, 0.7, 0.6378906723498339},
    {0.5, 1.5, 2.5, 0.71220659078919378},
    {0.3, 0.5, 3.5, 0.87312963307632898},
};

TEST(IncompleteBeta, MatchesKnownValues) {
  for (const Known& k : kKnownCdf) {
    EXPECT_NEAR(regularized_incomplete_beta(k.x, k.a, k.b), k.cdf, 1e-13)
        << "I_" << k.x << "(" << k.a << ", " << k.b << ")";
  }
}

TEST(IncompleteBeta, ClosedForms) {
  const double pi = std::acos(-1.0);
  for (double x : {0.0, 1e-9, 0.05, 0.25, 0.5, 0.77, 0.999, 1.0}) {
    EXPECT_NEAR(regularized_incomplete_beta(x, 1, 1), x, 1e-15);                     // uniform
    EXPECT_NEAR(regularized_incomplete_beta(x, 0.75, 1), std::pow(x, 0.75), 1e-14);  // x^a
    EXPECT_NEAR(regularized_incomplete_beta(x, 1, 5.25), 1 - std::pow(1 - x, 5.25), 1e-14);
    EXPECT_NEAR(regularized_incomplete_beta(x, 0.5, 0.5), 2 / pi * std::asin(std::sqrt(x)),
                1e-14);  // arcsine law
    // Symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    EXPECT_NEAR(regularized_incomplete_beta(x, 3.5, 0.4),
                1 - regularized_incomplete_beta(1 - x, 0.4, 3.5), 1e-14);
  }
  EXPECT_EQ(regularized_incomplete_beta(-0.1, 2, 3), 0.0);
  EXPECT_EQ(regularized_incomplete_beta(1.5, 2, 3), 1.0);
  for (double a : {0.3, 1.0, 4.0, 25.0})
    EXPECT_NEAR(regularized_incomplete_beta(0.5, a, a), 0.5, 1e-14);
}

TEST(BetaPdf, KnownValuesAndDerivativeOfTheCdf) {
  const double pi = std::acos(-1.0);
  EXPECT_NEAR(beta_pdf(0.3, 2, 3), 12 * 0.3 * 0.49, 1e-14);  // 12 x (1-x)^2
  EXPECT_NEAR(beta_pdf(0.5, 0.5, 0.5), 2 / pi, 1e-14);       // 1 / (pi sqrt(x (1-x)))
  EXPECT_NEAR(beta_pdf(0.7, 1, 1), 1.0, 1e-15);
  // mpmath values.
  EXPECT_NEAR(beta_pdf(0.1, 0.75, 5.25), 3.1604011402736702, 1e-13);
  EXPECT_NEAR(beta_pdf(0.02, 0.1, 0.7), 3.2070813834794454, 1e-13);
  EXPECT_NEAR(beta_pdf(0.3, 0.5, 3.5), 0.76240296796383945, 1e-13);
  EXPECT_TRUE(std::isinf(beta_pdf(0.0, 0.5, 2)));
  EXPECT_EQ(beta_pdf(0.0, 2, 2), 0.0);
  EXPECT_NEAR(beta_pdf(1.0, 3, 1), 3.0, 1e-14);
  EXPECT_EQ(beta_pdf(1.2, 2, 2), 0.0);
  // dI/dx = pdf (central differences).
  for (const Known& k : kKnownCdf) {
    const double h = 1e-6;
    const double fd = (regularized_incomplete_beta(k.x + h, k.a, k.b) -
                       regularized_incomplete_beta(k.x - h, k.a, k.b)) /
                      (2 * h);
    EXPECT_NEAR(fd, beta_pdf(k.x, k.a, k.b), 1e-6 * std::max(1.0, fd));
  }
}

// x with I_x(a, b) = q, by bisection.
double beta_quantile(double q, double a, double b) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (regularized_incomplete_beta(mid, a, b) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

at::Tensor dpsl_grad(const at::Tensor& p,
                     const DirichletPrior& prior,
                     const std::vector<int64_t>& groups = {}) {
  at::Tensor x = p.detach().clone().requires_grad_(true);
  dpsl_loss(x, prior, groups).backward();
  return x.grad();
}

TEST(Dpsl, WorkedExampleOfTheReference) {
  // ALGORITHMS.md §3.8 item 3: E = 2, alpha = (1, 1), N = 3, all p = 0.5 -> 0.125 / 3.
  at::Tensor p = at::full({3, 2}, 0.5, at::kDouble);
  DirichletPrior prior;
  prior.alpha = {1.0, 1.0};
  EXPECT_NEAR(dpsl_loss(p, prior).item<double>(), 0.125 / 3, 1e-15);
  EXPECT_NEAR(dpsl_loss(p, prior).item<double>(), 0.041667, 1e-6);
  EXPECT_NEAR(dpsl_distance(p, prior), 0.125 / 3, 1e-15);
  // float32 input gives a float32 scalar of the same value.
  at::Tensor f = dpsl_loss(p.to(at::kFloat), prior);
  EXPECT_EQ(f.scalar_type(), at::kFloat);
  EXPECT_NEAR(f.item<double>(), 0.125 / 3, 1e-7);
}

TEST(Dpsl, ExactQuantilesGiveZero) {
  // E = 2: expert 0 ~ Beta(a0, a1), expert 1 = 1 - p0 ~ Beta(a1, a0), whose sorted values are
  // again the quantiles m / (N + 1) of its marginal.
  for (auto [a0, a1] : {std::pair{1.0, 1.0}, std::pair{2.0, 3.0}, std::pair{0.75, 0.75}}) {
    const int64_t n = 9;
    at::Tensor p = at::empty({n, 2}, at::kDouble);
    for (int64_t m = 0; m < n; ++m) {
      const double x = beta_quantile(static_cast<double>(m + 1) / (n + 1), a0, a1);
      p[n - 1 - m][0] = x;  // reversed order: sorting must not matter
      p[n - 1 - m][1] = 1 - x;
    }
    DirichletPrior prior;
    prior.alpha = {a0, a1};
    EXPECT_LT(dpsl_loss(p, prior).item<double>(), 1e-24) << a0 << ", " << a1;
  }
}

TEST(Dpsl, PermutationInvariantOverTokens) {
  at::Tensor p = at::softmax(testing::make_tokens(40, 4, 3).to(at::kDouble) * 2, -1);  // [40, 4]
  at::Tensor perm = at::randperm(40, at::make_generator<at::CPUGeneratorImpl>(8), at::kLong);
  DirichletPrior prior;
  prior.alpha = {0.75};
  const double a = dpsl_loss(p, prior).item<double>();
  const double b = dpsl_loss(p.index_select(0, perm), prior).item<double>();
  EXPECT_NEAR(a, b, 1e-15);
  EXPECT_TRUE(at::allclose(dpsl_grad(p, prior).index_select(0, perm),
                           dpsl_grad(p.index_select(0, perm), prior), 0, 1e-15));
}

// N samples of Dirichlet(alpha) from normalized Gamma(alpha_k, 1) draws.
at::Tensor dirichlet_samples(int64_t n, const std::vector<double>& alpha, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor conc = at::tensor(alpha, at::kDouble).expand({n, static_cast<int64_t>(alpha.size())});
  at::Tensor g = at::_standard_gamma(conc.contiguous(), gen);  // [n, E]
  return g / g.sum(-1, true);
}

TEST(Dpsl, SamplesFromThePriorApproachZero) {
  for (const std::vector<double>& alpha :
       {std::vector<double>{0.75, 0.75, 0.75, 0.75}, std::vector<double>{3.0, 1.0, 0.5}}) {
    DirichletPrior prior;
    prior.alpha = alpha;
    const double small_n = dpsl_loss(dirichlet_samples(200, alpha, 1), prior).item<double>();
    const double large_n = dpsl_loss(dirichlet_samples(6400, alpha, 2), prior).item<double>();
    // The Cramér–von Mises statistic of a correct model has mean about 1 / (6N).
    EXPECT_LT(large_n, small_n);
    EXPECT_LT(large_n * 6400, 2.0);
    // A wrong prior stays far away.
    DirichletPrior wrong;
    wrong.alpha = {20.0};
    EXPECT_GT(dpsl_loss(dirichlet_samples(6400, alpha, 2), wrong).item<double>(), 100 * large_n);
  }
}

TEST(Dpsl, GradientSignMagnitudeAndFiniteDifferences) {
  at::Tensor p = at::softmax(testing::make_tokens(12, 3, 5).to(at::kDouble), -1);  // [12, 3]
  DirichletPrior prior;
  prior.alpha = {1.5, 0.8, 2.0};
  at::Tensor grad = dpsl_grad(p, prior);
  const double total = 4.3;
  for (int64_t k = 0; k < 3; ++k) {
    at::Tensor col = p.select(1, k);
    at::Tensor rank = col.argsort().argsort();  // [12] 0-based rank of each token
    for (int64_t t = 0; t < 12; ++t) {
      const double fhat = (rank[t].item<double>() + 1) / 13.0;
      const double f = regularized_incomplete_beta(col[t].item<double>(), prior.alpha[k],
                                                   total - prior.alpha[k]);
      // Below its empirical rank -> negative gradient (gradient descent pushes it up).
      if (f < fhat) EXPECT_LT(grad[t][k].item<double>(), 0.0);
      if (f > fhat) EXPECT_GT(grad[t][k].item<double>(), 0.0);
    }
  }
  // Finite differences (no ties, the density inside the clip range here).
  const double h = 1e-7;
  for (int64_t t = 0; t < 12; t += 3) {
    for (int64_t k = 0; k < 3; ++k) {
      at::Tensor up = p.clone();
      at::Tensor down = p.clone();
      up[t][k] += h;
      down[t][k] -= h;
      const double fd =
          (dpsl_loss(up, prior).item<double>() - dpsl_loss(down, prior).item<double>()) / (2 * h);
      EXPECT_NEAR(grad[t][k].item<double>(), fd, 1e-7) << t << ", " << k;
    }
  }
  // Clip: with alpha = 0.05 the density near 0 is huge; |grad| <= (2/N) * 100.
  DirichletPrior sharp;
  sharp.alpha = {0.05};
  at::Tensor q = at::softmax(testing::make_tokens(50, 4, 6).to(at::kDouble) * 8, -1);
  at::Tensor g = dpsl_grad(q, sharp);
  EXPECT_LE(g.abs().max().item<double>(), 2.0 / 50 * 100 + 1e-12);
  EXPECT_GT(g.abs().max().item<double>(), 2.0 / 50 * 100 / 4 * 0.01);  // not all zero
}

TEST(Dpsl, RoutingGroupsAverageTheGroupLosses) {
  at::Tensor p = at::softmax(testing::make_tokens(30, 4, 9).to(at::kDouble), -1);  // [30, 4]
  DirichletPrior prior;
  const double a = dpsl_loss(p.narrow(0, 0, 10), prior).item<double>();
  const double b = dpsl_loss(p.narrow(0, 10, 20), prior).item<double>();
  EXPECT_NEAR(dpsl_loss(p, prior, {10, 0, 20}).item<double>(), (a + b) / 2, 1e-15);
  at::Tensor g = dpsl_grad(p, prior, {10, 0, 20});
  EXPECT_TRUE(at::allclose(g.narrow(0, 0, 10), dpsl_grad(p.narrow(0, 0, 10), prior) / 2, 0, 1e-15));
}

TEST(Dpsl, MoELayerAddsItOnlyDuringTheWarmUp) {
  testing::LayerSpec s;
  s.lb_coeff = 0.0;
  s.z_coeff = 0.0;
  MoEBuildOptions o = testing::build_options(s);
  o.layer.aux.dpsl_coeff = 0.5;
  o.layer.aux.dpsl_prior.alpha = {0.75};
  o.layer.aux.dpsl_warmup_only_steps = 3;
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  at::Tensor x = testing::make_tokens(24, s.hidden, 4);
  layer->forward(x, {2, {6, 18}});
  ASSERT_EQ(aux.entries().size(), 1u);
  EXPECT_EQ(aux.entries()[0].name, "dpsl");
  EXPECT_EQ(aux.entries()[0].coeff, 0.5);
  at::Tensor p = layer->last_routing().scores.detach();
  EXPECT_NEAR(aux.entries()[0].value.item<double>(),
              dpsl_loss(p / p.sum(-1, true), o.layer.aux.dpsl_prior, {6, 18}).item<double>(), 1e-7);
  // Gradient reaches the router weight.
  aux.weighted_sum().backward();
  EXPECT_GT(layer->router().parameters()[0].grad().abs().sum().item<double>(), 0.0);
  aux.clear();
  layer->forward(x, {3, {}});  // step 3 >= warm-up: off
  EXPECT_TRUE(aux.entries().empty());
  layer->eval();
  layer->forward(x, {0, {}});  // evaluation: off
  EXPECT_TRUE(aux.entries().empty());
}

// Issue 17 item 10: global statistics. Two routing groups (= two ranks) with different
// distributions: group 0's probabilities of expert 0 are all low, group 1's all high. Per group
// each looks like a narrow sample; over the step they spread. The global DPSL is the DPSL of the
// pooled tokens (one group), not the mean of the per-group values.
TEST(GlobalAuxStatistics, DpslOverTheStepIsThePooledDistance) {
  at::Tensor low = at::rand({16}, at::make_generator<at::CPUGeneratorImpl>(3)) * 0.3;  // [16]
  at::Tensor high = 0.7 + at::rand({16}, at::make_generator<at::CPUGeneratorImpl>(4)) * 0.3;
  at::Tensor p0 = at::cat({low, high}).to(at::kDouble);              // [32]
  at::Tensor p = at::stack({p0, 1.0 - p0}, 1).requires_grad_(true);  // [32, 2]
  DirichletPrior prior;  // Beta(1, 1) marginals: uniform
  const GlobalAuxStatistics stats =
      gather_aux_statistics(at::zeros({2}, at::kLong), 32, p, nullptr);
  EXPECT_EQ(stats.tokens, 32);
  ASSERT_EQ(stats.sorted_probs.sizes(), (at::IntArrayRef{32, 2}));
  at::Tensor global = global_dpsl_loss(p, prior, stats);
  const double pooled = dpsl_loss(p.detach(), prior, {}).item<double>();
  const double per_group = dpsl_loss(p.detach(), prior, {16, 16}).item<double>();
  EXPECT_NEAR(global.item<double>(), pooled, 1e-9);
  EXPECT_GT(std::abs(per_group - pooled), 1e-2);  // the per-rank value reads differently
  // Gradient: the pooled DPSL's, token for token.
  global.backward();
  at::Tensor q = p.detach().clone().requires_grad_(true);
  dpsl_loss(q, prior, {}).backward();
  EXPECT_TRUE(at::allclose(p.grad(), q.grad(), 1e-9, 1e-12));
}

// Issue 17 item 10: with global statistics the layer's load-balancing loss is E sum_i f_i P_i
// over every token of the step (here the two routing groups of a single-process reference), not
// the mean of the per-group values.
TEST(GlobalAuxStatistics, LoadBalancingUsesTheStepsCounts) {
  MoEBuildOptions o = testing::build_options(testing::LayerSpec{});
  o.layer.aux.global_statistics = true;
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  at::Tensor x = testing::make_tokens(32, 16, 21);
  MoEForwardArgs args;
  args.group_sizes = {16, 16};
  layer->forward(x, args);
  double global = -1;
  for (const AuxLossEntry& e : aux.entries()) {
    if (e.name == "load_balancing") global = e.value.item<double>();
  }
  const RoutingResult& r = layer->last_routing();
  // Reference: E * sum_i f_i P_i with f over all 32 tokens and P over all 32 tokens.
  const double pooled =
      load_balancing_loss(r.scores.detach(), r.balance_ids, r.balance_k, {}).item<double>();
  EXPECT_NEAR(global, pooled, 1e-6);
  const double per_group =
      load_balancing_loss(r.scores.detach(), r.balance_ids, r.balance_k, {16, 16}).item<double>();
  EXPECT_NE(global, per_group);
}

}  // namespace
}  // namespace switchyard::models
