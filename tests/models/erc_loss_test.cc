// ERC loss (Lv et al., arXiv 2512.23447): every testable property of ALGORITHMS.md §2.8, the
// worked examples of §12, the naive-loop reference of M, finite-difference gradients, and the
// layer wiring (token-count independence, which parameters receive gradients, metrics).
#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/config/experiment.pb.h"
#include "core/errors.h"
#include "models/moe/erc_loss.h"
#include "models/moe/moe_builder.h"
#include "models/moe/router_noise.h"
#include "models/moe/routers/smile_router.h"
#include "models/moe/routers/stablemoe_router.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

// SwiGLU w1 = [Wg | Wp] of experts with the given gate projections ([d, D] each).
at::Tensor swiglu_w1(const std::vector<at::Tensor>& gates) {
  std::vector<at::Tensor> w;
  for (const at::Tensor& g : gates) w.push_back(at::cat({g, at::full_like(g, 7.0)}, 1));
  return at::stack(w);  // [n, d, 2D]
}

double erc_value(const at::Tensor& r,
                 const at::Tensor& w1,
                 double alpha,
                 bool noise,
                 ExpertKind kind = ExpertKind::kSwiGlu) {
  ErcOptions o;
  o.alpha = alpha;
  o.noise = noise;
  return ExpertRouterCouplingLoss(o, kind).compute(r, w1, 5).loss.item<double>();
}

TEST(ErcLoss, WorkedExampleIdentityRouterAndExperts) {
  // §2.8 item 4 / §12: n = 2, d = D = 2, R = I, W_g^0 = W_g^1 = I, no noise.
  at::Tensor r = at::eye(2, at::kFloat);
  at::Tensor w1 = swiglu_w1({at::eye(2), at::eye(2)});
  ErcOptions o;
  o.noise = false;
  ErcResult res = ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu).compute(r, w1, 1);
  EXPECT_TRUE(at::allclose(res.matrix, at::ones({2, 2})));
  EXPECT_NEAR(erc_value(r, w1, 1.0, false), 0.0, 1e-7);
  EXPECT_NEAR(erc_value(r, w1, 0.5, false), 0.5, 1e-7);
}

TEST(ErcLoss, DiagonalExpertsGiveIdentityMatrixAndZeroLoss) {
  // §2.8 item 5: W_g^0 = diag(1, 0), W_g^1 = diag(0, 1) => M = I => 0 for every alpha.
  at::Tensor r = at::eye(2, at::kFloat);
  at::Tensor w1 =
      swiglu_w1({at::diag(at::tensor({1.0f, 0.0f})), at::diag(at::tensor({0.0f, 1.0f}))});
  ErcOptions o;
  o.noise = false;
  EXPECT_TRUE(at::allclose(
      ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu).compute(r, w1, 1).matrix, at::eye(2)));
  for (double alpha : {0.0, 0.25, 0.5, 1.0}) EXPECT_EQ(erc_value(r, w1, alpha, false), 0.0);
}

TEST(ErcLoss, IdenticalNormPreservingExpertsAndEqualNormRowsGiveZeroAtAlphaOne) {
  // §2.8 item 3: every W_g^j = I and equal-norm rows => all entries of M equal => 0 at alpha 1.
  const int64_t n = 5, d = 4;
  at::Tensor r = make_tokens(n, d, 3);
  r = r / r.norm(2, {1}, true) * 1.7;  // equal norms
  std::vector<at::Tensor> gates(n, at::eye(d));
  at::Tensor w1 = swiglu_w1(gates);
  ErcOptions o;
  o.noise = false;
  at::Tensor m = ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu).compute(r, w1, 1).matrix;
  EXPECT_TRUE(at::allclose(m, at::full({n, n}, 1.7), 1e-5, 1e-5));
  EXPECT_NEAR(erc_value(r, w1, 1.0, false), 0.0, 1e-6);
  EXPECT_GT(erc_value(r, w1, 0.5, false), 0.0);  // alpha < 1 punishes the equality
}

TEST(ErcLoss, DiagonalOfTheMaskedMatrixContributesNothing) {
  // §2.8 item 2: off-diagonal zero, diagonal positive, alpha < 1: (1 - a) M[i,i] > 0 yet L = 0.
  at::Tensor m = at::diag(at::tensor({2.0f, 3.0f, 5.0f}));
  for (double alpha : {0.0, 0.3, 0.9})
    EXPECT_EQ(erc_loss_from_matrix(m, alpha).item<double>(), 0.0);
  // One violation M[0,1] = 3 > 0.5 * 2 counts in the row term of i = 0 (3 - 1 = 2) and, as
  // M[j=0, i=1] vs 0.5 * M[1,1] = 1.5, in the column term of i = 1 (3 - 1.5 = 1.5): 3.5 / 9.
  m[0][1] = 3.0;
  EXPECT_NEAR(erc_loss_from_matrix(m, 0.5).item<double>(), 3.5 / 9.0, 1e-7);
}

TEST(ErcLoss, NonNegativeAndZeroExactlyWhenTheConstraintsHold) {
  // §2.8 item 8, including pairs exactly on the boundary M[i,j] = a M[i,i] (non-strict).
  at::Generator gen = at::detail::createCPUGenerator(7);
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t n = 2 + trial % 4;
    const double alpha = (trial % 5) / 4.0;
    at::Tensor m = at::rand({n, n}, gen, at::kDouble);
    if (trial % 3 == 0) {  // diagonal dominant, some entries exactly on the boundary
      m = m * 0.1;
      m.diagonal().fill_(2.0);
      m[0][n - 1] = alpha * 2.0;
      m[n - 1][0] = alpha * 2.0;
      if (alpha < 0.1) m.fill_diagonal_(2.0).mul_(at::eye(n, at::kDouble));
    }
    bool holds = true;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (i == j) continue;
        const double mii = m[i][i].item<double>();
        holds =
            holds && m[i][j].item<double>() <= alpha * mii && m[j][i].item<double>() <= alpha * mii;
      }
    }
    const double loss = erc_loss_from_matrix(m, alpha).item<double>();
    EXPECT_GE(loss, 0.0);
    EXPECT_EQ(loss == 0.0, holds) << "trial " << trial;
  }
}

TEST(ErcLoss, ProxyStaysNearestToItsOwnCentre) {
  // §2.8 item 1 over many draws: ||Rt_i - R_i|| <= eps_i ||R_i|| <= min_j ||R_i - R_j|| / 2, so
  // Rt_i is never strictly closer to another centre.
  int64_t violations = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    at::Tensor r = make_tokens(8, 6, 1000 + seed % 30).to(at::kDouble);  // [n, d]
    at::Tensor eps = erc_noise_levels(r);                                // [n]
    at::Tensor rt = erc_proxy_tokens(r, seed, true);                     // [n, d]
    at::Tensor dist = at::cdist(rt, r);                                  // [n, n]
    at::Tensor centre = at::cdist(r, r) + at::diag(at::full({8}, 1e30, at::kDouble));
    for (int64_t i = 0; i < 8; ++i) {
      const double moved = (rt[i] - r[i]).norm().item<double>();
      const double bound = eps[i].item<double>() * r[i].norm().item<double>();
      EXPECT_LE(moved, bound * (1 + 1e-12) + 1e-15);
      EXPECT_NEAR(bound, centre[i].min().item<double>() / 2, 1e-9);
      for (int64_t j = 0; j < 8; ++j) {
        if (j != i && dist[i][j].item<double>() < dist[i][i].item<double>()) ++violations;
      }
    }
  }
  EXPECT_EQ(violations, 0);
}

TEST(ErcLoss, NoiseIsSeededAndOffMeansTheRouterRows) {
  at::Tensor r = make_tokens(6, 5, 4);
  EXPECT_TRUE(at::equal(erc_proxy_tokens(r, 9, true), erc_proxy_tokens(r, 9, true)));
  EXPECT_FALSE(at::equal(erc_proxy_tokens(r, 9, true), erc_proxy_tokens(r, 10, true)));
  EXPECT_TRUE(at::equal(erc_proxy_tokens(r, 9, false), r));
}

TEST(ErcLoss, CouplingMatrixMatchesANaiveLoop) {
  const int64_t n = 4, d = 6, f = 3;
  at::Tensor r = make_tokens(n, d, 21);
  at::Tensor w1 = make_tokens(n * d, 2 * f, 22).view({n, d, 2 * f});
  for (bool noise : {false, true}) {
    ErcOptions o;
    o.noise = noise;
    o.alpha = 0.7;
    ErcResult res = ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu).compute(r, w1, 33);
    at::Tensor proxy = erc_proxy_tokens(r, 33, noise);
    double loss = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        at::Tensor act = proxy[i].unsqueeze(0).mm(w1[j].narrow(1, 0, f));  // gate half
        EXPECT_NEAR(res.matrix[i][j].item<double>(), act.norm().item<double>(), 1e-5);
      }
    }
    at::Tensor m = res.matrix.to(at::kDouble);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (i == j) continue;
        const double mii = m[i][i].item<double>();
        loss += std::max(m[i][j].item<double>() - 0.7 * mii, 0.0) +
                std::max(m[j][i].item<double>() - 0.7 * mii, 0.0);
      }
    }
    EXPECT_NEAR(res.loss.item<double>(), loss / (n * n), 1e-5);
  }
  // Non-gated experts use the whole first projection W_1.
  ErcOptions o;
  o.noise = false;
  at::Tensor m = ExpertRouterCouplingLoss(o, ExpertKind::kGeluMlp).compute(r, w1, 1).matrix;
  EXPECT_NEAR(m[1][2].item<double>(), r[1].unsqueeze(0).mm(w1[2]).norm().item<double>(), 1e-5);
}

TEST(ErcLoss, GradientsMatchFiniteDifferences) {
  // float64; the noise is a constant of the seed, so the loss is a function of R and W_g.
  const int64_t n = 3, d = 4, f = 2;
  at::Tensor r = make_tokens(n, d, 41).to(at::kDouble).requires_grad_(true);
  at::Tensor w1 = make_tokens(n * d, 2 * f, 42)
                      .to(at::kDouble)
                      .view({n, d, 2 * f})
                      .clone()
                      .requires_grad_(true);
  ErcOptions o;
  o.alpha = 0.6;
  ExpertRouterCouplingLoss erc(o, ExpertKind::kSwiGlu);
  erc.compute(r, w1, 8).loss.backward();
  auto check = [&](at::Tensor& p) {
    at::Tensor flat = p.detach().view({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double h = 1e-6;
      const double x0 = flat[i].item<double>();
      at::NoGradGuard ng;
      flat[i] = x0 + h;
      const double up = erc.compute(r.detach(), w1.detach(), 8).loss.item<double>();
      flat[i] = x0 - h;
      const double down = erc.compute(r.detach(), w1.detach(), 8).loss.item<double>();
      flat[i] = x0;
      EXPECT_NEAR(p.grad().view({-1})[i].item<double>(), (up - down) / (2 * h), 1e-6) << i;
    }
  };
  // eps is a function of R without gradient (§2.3), so finite differences in R would move the
  // noise: check W_g with the noise on, and R with the noise off.
  check(w1);
  ErcOptions plain = o;
  plain.noise = false;
  ExpertRouterCouplingLoss erc_plain(plain, ExpertKind::kSwiGlu);
  r.mutable_grad() = at::Tensor();
  erc_plain.compute(r, w1.detach(), 8).loss.backward();
  at::Tensor flat = r.detach().view({-1});
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double h = 1e-6;
    const double x0 = flat[i].item<double>();
    at::NoGradGuard ng;
    flat[i] = x0 + h;
    const double up = erc_plain.compute(r.detach(), w1.detach(), 8).loss.item<double>();
    flat[i] = x0 - h;
    const double down = erc_plain.compute(r.detach(), w1.detach(), 8).loss.item<double>();
    flat[i] = x0;
    EXPECT_NEAR(r.grad().view({-1})[i].item<double>(), (up - down) / (2 * h), 1e-6) << i;
  }
}

testing::LayerSpec erc_spec() {
  testing::LayerSpec s;
  s.experts = 6;
  s.hidden = 8;
  s.ffn = 5;
  s.expert_kind = ExpertKind::kSwiGlu;
  s.capacity_factor = 1.0;
  return s;
}

MoELayer erc_layer(AuxLossCollector* aux, double alpha = 0.5) {
  MoEBuildOptions o = testing::build_options(erc_spec());
  o.layer.aux.erc.coeff = 1.0;
  o.layer.aux.erc.alpha = alpha;
  return build_moe_layer(o, MoEParallel{}, aux);
}

const AuxLossEntry& erc_entry(const AuxLossCollector& aux) {
  for (const AuxLossEntry& e : aux.entries()) {
    if (e.name == "erc") return e;
  }
  ADD_FAILURE() << "no erc entry";
  return aux.entries().front();
}

TEST(ErcLoss, LayerLossDoesNotDependOnTheTokens) {
  // §2.8 item 6: same step (same noise), 4 vs 96 tokens of different content: identical value.
  AuxLossCollector aux;
  MoELayer layer = erc_layer(&aux);
  layer->forward(make_tokens(4, 8, 1), {3, {}});
  const double small = erc_entry(aux).value.item<double>();
  aux.clear();
  layer->forward(make_tokens(96, 8, 2), {3, {}});
  EXPECT_EQ(erc_entry(aux).value.item<double>(), small);
  EXPECT_GT(small, 0.0);
  // Equal to the direct computation from the layer's parameters and seed.
  ErcOptions o;
  o.alpha = 0.5;
  const uint64_t seed = mix_seed(1234, 3, 3);  // build_options: seed 1234, layer 3; step 3
  const double direct = ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu)
                            .compute(layer->router().coupling_weight(), layer->experts().w1(), seed)
                            .loss.item<double>();
  EXPECT_NEAR(small, direct, 1e-7);
  // Not in evaluation.
  aux.clear();
  layer->eval();
  layer->forward(make_tokens(4, 8, 1), {3, {}});
  for (const AuxLossEntry& e : aux.entries()) EXPECT_NE(e.name, "erc");
}

TEST(ErcLoss, OnlyTheRouterAndTheGateProjectionReceiveGradients) {
  // §2.5 / §2.8 item 7: W_p, W_o and the tokens get exactly zero gradient from the ERC loss.
  AuxLossCollector aux;
  MoELayer layer = erc_layer(&aux);
  at::Tensor x = make_tokens(10, 8, 5).requires_grad_(true);
  MoEOutput out = layer->forward(x, {1, {}});
  (out.output.sum() * 0.0).backward({}, /*retain_graph=*/true);  // define every grad as zero
  x.mutable_grad().zero_();
  for (auto& p : layer->parameters()) p.mutable_grad().zero_();
  erc_entry(aux).value.backward();
  const int64_t f = 5;
  at::Tensor g1 = layer->experts().w1().grad();  // [E, H, 2F]
  EXPECT_GT(g1.narrow(2, 0, f).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(g1.narrow(2, f, f).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(layer->experts().w2().grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(x.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(layer->router().coupling_weight().grad().abs().sum().item<double>(), 0.0);
}

TEST(ErcLoss, RouterGradientOptionDetachesTheProxies) {
  at::Tensor r = make_tokens(4, 6, 51).requires_grad_(true);
  at::Tensor w1 = make_tokens(24, 6, 52).view({4, 6, 6}).clone().requires_grad_(true);
  ErcOptions o;
  o.alpha = 0.3;
  o.router_gradient = false;
  ExpertRouterCouplingLoss(o, ExpertKind::kSwiGlu).compute(r, w1, 2).loss.backward();
  EXPECT_FALSE(r.grad().defined());
  EXPECT_GT(w1.grad().abs().sum().item<double>(), 0.0);
}

TEST(ErcLoss, MetricsDescribeTheCouplingMatrix) {
  at::Tensor m = at::tensor({2.0, 3.0, 0.5, 1.0}).view({2, 2});  // diag 2, 1; off 3, 0.5
  auto stats = erc_matrix_stats(m, 1.0);
  ASSERT_EQ(stats.size(), 4u);
  EXPECT_EQ(stats[0].first, "erc/diag_mean");
  EXPECT_DOUBLE_EQ(stats[0].second, 1.5);
  EXPECT_DOUBLE_EQ(stats[1].second, 1.75);
  // Row: M[0,1] = 3 > 2 yes, M[1,0] = 0.5 > 1 no -> 1/2. Column: M[0,1] = 3 > M[1,1] = 1 yes,
  // M[1,0] = 0.5 > M[0,0] = 2 no -> 1/2.
  EXPECT_DOUBLE_EQ(stats[2].second, 0.5);
  EXPECT_DOUBLE_EQ(stats[3].second, 0.5);
  // The layer reports them with its output.
  AuxLossCollector aux;
  MoELayer layer = erc_layer(&aux);
  MoEOutput out = layer->forward(make_tokens(6, 8, 1), {0, {}});
  ASSERT_GE(out.stats.router_metrics.size(), 4u);
  EXPECT_EQ(out.stats.router_metrics[0].first, "erc/diag_mean");
  EXPECT_GT(out.stats.router_metrics[0].second, 0.0);
}

TEST(ErcLoss, MeasureWithoutTheLossGivesTheSameStatisticsAndNoGradient) {
  // erc.measure with coeff 0: the statistics of the same M (same parameters, same step noise)
  // as the layer with the loss, no "erc" loss entry, and the ERC path adds no gradient.
  AuxLossCollector with_loss;
  MoELayer reference = erc_layer(&with_loss);
  const MoEOutput ref = reference->forward(make_tokens(6, 8, 1), {4, {}});
  MoEBuildOptions o = testing::build_options(erc_spec());
  o.layer.aux.erc.coeff = 0.0;
  o.layer.aux.erc.alpha = 0.5;
  o.layer.aux.erc.measure = true;
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  ASSERT_TRUE(layer->router().coupling_weight().equal(reference->router().coupling_weight()));
  at::Tensor x = make_tokens(6, 8, 1).requires_grad_(true);
  const MoEOutput out = layer->forward(x, {4, {}});
  for (const AuxLossEntry& e : aux.entries()) EXPECT_NE(e.name, "erc");
  ASSERT_EQ(out.stats.router_metrics.size(), ref.stats.router_metrics.size());
  int erc_metrics = 0;
  for (size_t i = 0; i < out.stats.router_metrics.size(); ++i) {
    EXPECT_EQ(out.stats.router_metrics[i].first, ref.stats.router_metrics[i].first);
    EXPECT_DOUBLE_EQ(out.stats.router_metrics[i].second, ref.stats.router_metrics[i].second);
    if (out.stats.router_metrics[i].first.rfind("erc/", 0) == 0) ++erc_metrics;
  }
  EXPECT_EQ(erc_metrics, 4);
  // The measurement adds nothing to the gradients: bitwise those of the layer without it.
  MoEBuildOptions off = o;
  off.layer.aux.erc.measure = false;
  AuxLossCollector aux_off;
  MoELayer plain = build_moe_layer(off, MoEParallel{}, &aux_off);
  at::Tensor x_off = make_tokens(6, 8, 1).requires_grad_(true);
  const MoEOutput out_off = plain->forward(x_off, {4, {}});
  out.output.sum().backward();
  out_off.output.sum().backward();
  EXPECT_TRUE(layer->experts().w1().grad().equal(plain->experts().w1().grad()));
  EXPECT_TRUE(
      layer->router().coupling_weight().grad().equal(plain->router().coupling_weight().grad()));
  EXPECT_TRUE(out_off.stats.router_metrics.empty() ||
              out_off.stats.router_metrics[0].first.rfind("erc/", 0) != 0);
}

}  // namespace
}  // namespace switchyard::models

namespace switchyard::models {
namespace {

TEST(ErcLoss, BuilderReadsTheConfigFields) {
  config::MoELayerConfig c;
  c.set_num_experts(4);
  c.mutable_expert()->set_kind(config::ExpertConfig::SWIGLU);
  c.mutable_expert()->set_ffn_hidden_size(6);
  c.mutable_dispatcher()->set_capacity_factor(1.0);
  c.mutable_dispatcher()->mutable_rectify()->set_intra_rank(true);
  c.mutable_dispatcher()->mutable_rectify()->set_fill_in(true);
  c.mutable_dispatcher()->mutable_rectify()->set_intra_rank_exclude_kept(true);
  c.mutable_dispatcher()->mutable_rectify()->set_fill_in_renormalize(false);
  c.mutable_aux_loss()->mutable_erc()->set_coeff(1.0f);
  c.mutable_aux_loss()->mutable_erc()->set_alpha(0.5f);
  c.mutable_aux_loss()->mutable_erc()->set_noise(false);
  c.mutable_aux_loss()->mutable_erc()->set_router_gradient(false);
  MoEBuildOptions o = moe_options_from_config(c, 8, 4, 0, 1337);
  EXPECT_EQ(o.layer.aux.erc.coeff, 1.0);
  EXPECT_EQ(o.layer.aux.erc.alpha, 0.5);
  EXPECT_FALSE(o.layer.aux.erc.noise);
  EXPECT_FALSE(o.layer.aux.erc.router_gradient);
  EXPECT_TRUE(o.layer.capacity.rectify.intra_rank);
  EXPECT_TRUE(o.layer.capacity.rectify.fill_in);
  EXPECT_TRUE(o.layer.capacity.rectify.intra_rank_exclude_kept);
  EXPECT_FALSE(o.layer.capacity.rectify.fill_in_renormalize);
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  layer->forward(make_tokens(8, 8, 1));
  bool has_erc = false;
  for (const AuxLossEntry& e : aux.entries()) has_erc = has_erc || e.name == "erc";
  EXPECT_TRUE(has_erc);
  EXPECT_TRUE(layer->last_plan().rectified.has_value());
}

// Issue 17 item 3: routers without a "weight" parameter couple through their own rows.
// StableMoE: the backbone centroids. SMILE: the joint-logit rows W_node[a] + W_loc[b] (per-node
// local router: W_loc[a M + b]), i.e. x R^T reproduces the router's joint logits.
TEST(ErcLoss, StableMoEAndSmileCoupleThroughTheirRouterRows) {
  RouterOptions so;
  so.hidden_size = 8;
  so.num_experts = 4;
  so.top_k = 1;
  so.vocab_size = 16;
  so.stablemoe.distilled_dim = 4;
  StableMoERouter stable(so);
  ASSERT_TRUE(stable.coupling_weight().defined());
  EXPECT_TRUE(stable.coupling_weight().is_same(stable.centroids()));
  for (bool per_node : {false, true}) {
    RouterOptions o;
    o.kind = "smile";
    o.hidden_size = 8;
    o.num_experts = 6;
    o.num_nodes = 2;
    o.top_k = 1;
    o.normalize_top_k = false;
    o.init_std = 0.5;
    o.smile.router_per_node = per_node;
    SmileRouter smile(o);
    at::Tensor rows = smile.coupling_weight();  // [E, H]
    ASSERT_TRUE(rows.defined());
    ASSERT_EQ(rows.sizes(), (at::IntArrayRef{6, 8}));
    at::Tensor x = make_tokens(5, 8, 9);
    RoutingContext ctx;
    ctx.training = false;
    RoutingResult r = smile.route(x, ctx);
    EXPECT_TRUE(at::allclose(at::linear(x, rows), r.logits, 1e-5, 1e-6)) << per_node;
    // The ERC loss reaches both router levels.
    ErcOptions eo;
    eo.alpha = 0.5;
    at::Tensor w1 = make_tokens(6 * 8, 10, 4).view({6, 8, 10});
    ExpertRouterCouplingLoss(eo, ExpertKind::kSwiGlu).compute(rows, w1, 3).loss.backward();
    EXPECT_GT(smile.node_weight().grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(smile.named_parameters()["local_weight"].grad().abs().sum().item<double>(), 0.0);
  }
}

// Issue 17 item 3: a layer whose router has no rows (LocMoE with GrAP gating) is refused when it
// is built, with the config field, not at the first forward.
TEST(ErcLoss, BuilderRefusesARouterWithoutRows) {
  config::MoELayerConfig c;
  c.set_num_experts(4);
  c.mutable_router()->set_kind(config::RouterConfig::LOCMOE);
  c.mutable_router()->mutable_locmoe()->set_grouped_average_pooling(true);
  c.mutable_aux_loss()->mutable_erc()->set_coeff(1.0f);
  MoEBuildOptions o = moe_options_from_config(c, 8, 4, 0, 1337);
  AuxLossCollector aux;
  try {
    build_moe_layer(o, MoEParallel{}, &aux);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "model.moe.aux_loss.erc.coeff");
  }
}

}  // namespace
}  // namespace switchyard::models
