// StableMoE (Dai et al., arXiv 2204.08396): the balance and distillation losses and the two-stage
// router against the testable properties of ALGORITHMS.md §1.8 that live below the trainer
// (items 1-5, 8, 9; items 5-7 through the optimizer are in tests/train/stablemoe_trainer_test.cc).
#include <cmath>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/routers/stablemoe_losses.h"
#include "models/moe/routers/stablemoe_router.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

RouterOptions stable_options(int64_t experts = 4, int64_t hidden = 8, int64_t vocab = 20) {
  RouterOptions o;
  o.kind = "stablemoe";
  o.hidden_size = hidden;
  o.num_experts = experts;
  o.top_k = 1;
  o.vocab_size = vocab;
  o.stablemoe.stage2_step = 5;
  o.stablemoe.distilled_dim = 6;
  o.init_seed = 21;
  o.stablemoe.centroid_gain = 1.0;  // larger scores than the default 0.1, clearer argmaxes
  return o;
}

TEST(StableMoEBalanceLoss, WorkedExampleIsHalf) {
  // ALGORITHMS.md §1.8 item 2: E = 2, 3 tokens on expert 0 and 1 on expert 1, scores 0.
  at::Tensor s = at::zeros({4, 2}, at::kDouble);
  at::Tensor a = at::tensor({0, 0, 0, 1}, at::kLong);
  EXPECT_NEAR(stablemoe_balance_loss(s, a, {}, /*normalize_by_tokens=*/false).item<double>(), 0.5,
              1e-15);
  EXPECT_NEAR(stablemoe_balance_loss(s, a).item<double>(), 0.5 / 4, 1e-15);
}

TEST(StableMoEBalanceLoss, ZeroWhenEveryExpertGetsTheAverageLoad) {
  at::Tensor s = make_tokens(12, 3, 2).to(at::kDouble) * 3;  // any scores
  at::Tensor a = at::tensor({2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2}, at::kLong);
  EXPECT_NEAR(stablemoe_balance_loss(s, a).item<double>(), 0.0, 1e-15);
  // Per routing group: balanced within each group of 6 -> 0; a group imbalance is seen.
  EXPECT_NEAR(stablemoe_balance_loss(s, a, {6, 6}).item<double>(), 0.0, 1e-15);
  EXPECT_GT(std::abs(stablemoe_balance_loss(s, a, {4, 8}).item<double>()), 1e-3);
}

TEST(StableMoEBalanceLoss, GradientIsTheConstantFactorTimesTheSigmoidSlope) {
  at::Tensor s = (make_tokens(5, 2, 3).to(at::kDouble)).requires_grad_(true);  // [5, 2]
  at::Tensor a = at::tensor({0, 0, 0, 0, 1}, at::kLong);  // nbar = 2.5: +0.6 / -0.6
  stablemoe_balance_loss(s, a, {}, false).backward();
  for (int64_t t = 0; t < 5; ++t) {
    for (int64_t i = 0; i < 2; ++i) {
      const double sig = 1 / (1 + std::exp(-s[t][i].item<double>()));
      const double factor = i == 0 ? 0.6 : -0.6;
      const double expected = a[t].item<int64_t>() == i ? factor * sig * (1 - sig) : 0.0;
      EXPECT_NEAR(s.grad()[t][i].item<double>(), expected, 1e-15) << t << ", " << i;
    }
  }
  EXPECT_GT(s.grad()[0][0].item<double>(), 0.0);  // overloaded: pushed down
  EXPECT_LT(s.grad()[4][1].item<double>(), 0.0);  // underloaded: pushed up
}

TEST(StableMoEDistillLoss, IsTheMeanCrossEntropy) {
  at::Tensor z = make_tokens(6, 3, 4).to(at::kDouble);
  at::Tensor a = at::tensor({0, 2, 1, 1, 0, 2}, at::kLong);
  double expected = 0;
  for (int64_t t = 0; t < 6; ++t) {
    expected -= at::log_softmax(z[t], 0)[a[t].item<int64_t>()].item<double>();
  }
  EXPECT_NEAR(stablemoe_distill_loss(z, a).item<double>(), expected / 6, 1e-14);
}

TEST(StableMoERouter, StageOneAssignsByCentroidsGatesBySigmoidAndAddsBothLosses) {
  StableMoERouter router(stable_options());
  at::Tensor x = make_tokens(10, 8, 5).requires_grad_(true);
  at::Tensor ids = at::arange(10, at::kLong).remainder(7).view({2, 5});
  RoutingContext ctx;
  ctx.step = 0;
  ctx.token_ids = ids;
  RoutingResult r = router.route(x, ctx);
  at::Tensor s = at::linear(x.detach(), router.centroids().detach());  // [10, 4]
  EXPECT_TRUE(at::equal(r.expert_ids.squeeze(1), s.argmax(-1)));
  EXPECT_TRUE(at::allclose(r.probs.squeeze(1).detach(),
                           at::sigmoid(s.gather(1, s.argmax(-1, true))).squeeze(1)));
  EXPECT_FALSE(r.balance_ids.defined());
  ASSERT_EQ(r.losses.size(), 2u);
  EXPECT_EQ(r.losses[0].name, "stablemoe_balance");
  EXPECT_EQ(r.losses[1].name, "stablemoe_distill");
  EXPECT_NEAR(r.losses[0].value.item<double>(),
              stablemoe_balance_loss(s, s.argmax(-1)).item<double>(), 1e-6);
  EXPECT_NEAR(r.losses[1].value.item<double>(),
              stablemoe_distill_loss(router.distilled_logits(ids), s.argmax(-1)).item<double>(),
              1e-6);
  EXPECT_EQ(router.stage(), 1);

  // §1.8 item 4: the distillation loss gives no gradient to the centroids or the backbone.
  r.losses[1].value.backward();
  EXPECT_TRUE(!router.centroids().grad().defined() ||
              router.centroids().grad().abs().sum().item<double>() == 0.0);
  EXPECT_TRUE(!x.grad().defined() || x.grad().abs().sum().item<double>() == 0.0);
  EXPECT_GT(router.distilled_embedding().grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(router.distilled_centroids().grad().abs().sum().item<double>(), 0.0);
}

TEST(StableMoERouter, StageTwoIsAFunctionOfTheTokenIdAndFrozen) {
  StableMoERouter router(stable_options());
  RoutingContext ctx;
  ctx.step = 5;  // = stage2_step
  at::Tensor ids = at::tensor({3, 3, 7, 1, 3, 7, 19, 0}, at::kLong).view({2, 4});
  ctx.token_ids = ids;
  RoutingResult r = router.route(make_tokens(8, 8, 1), ctx);
  EXPECT_EQ(router.stage(), 2);
  EXPECT_FALSE(router.distilled_embedding().requires_grad());
  EXPECT_FALSE(router.distilled_centroids().requires_grad());
  EXPECT_TRUE(router.centroids().requires_grad());
  EXPECT_TRUE(r.losses.empty());
  at::Tensor expected = router.distilled_logits(ids).argmax(-1);  // [8]
  EXPECT_TRUE(at::equal(r.expert_ids.squeeze(1), expected));
  // §1.8 item 5: same token id -> same expert at every position, whatever the hidden state, in
  // later steps and batches, and in evaluation.
  for (int64_t t = 0; t < 8; ++t) {
    for (int64_t u = 0; u < 8; ++u) {
      if (ids.view(-1)[t].item<int64_t>() == ids.view(-1)[u].item<int64_t>()) {
        EXPECT_EQ(r.expert_ids[t][0].item<int64_t>(), r.expert_ids[u][0].item<int64_t>());
      }
    }
  }
  RoutingContext later;
  later.step = 50;
  later.token_ids = ids.flip({1});
  RoutingResult r2 = router.route(make_tokens(8, 8, 2) * 10, later);
  EXPECT_TRUE(at::equal(r2.expert_ids.squeeze(1), expected.view({2, 4}).flip({1}).reshape(-1)));
  later.training = false;
  RoutingResult r3 = router.route(make_tokens(8, 8, 3), later);
  EXPECT_TRUE(at::equal(r3.expert_ids, r2.expert_ids));
  // The gate still uses the backbone centroids.
  at::Tensor x = make_tokens(8, 8, 2) * 10;
  at::Tensor s = at::linear(x, router.centroids().detach());
  EXPECT_TRUE(at::allclose(r2.probs.detach(), at::sigmoid(s.gather(1, r2.expert_ids))));
  EXPECT_THROW(router.restore_stage(1), std::exception);
}

TEST(StableMoERouter, EvaluationUsesTheDistilledRouterInStageOneAndRestoreFreezes) {
  StableMoERouter router(stable_options());
  at::Tensor ids = at::arange(12, at::kLong).view({3, 4});
  RoutingContext eval;
  eval.training = false;
  eval.step = 100;  // evaluation never switches the stage
  eval.token_ids = ids;
  RoutingResult r = router.route(make_tokens(12, 8, 9), eval);
  EXPECT_EQ(router.stage(), 1);
  EXPECT_TRUE(at::equal(r.expert_ids.squeeze(1), router.distilled_logits(ids).argmax(-1)));
  EXPECT_TRUE(r.losses.empty());
  router.restore_stage(2);
  EXPECT_EQ(router.stage(), 2);
  EXPECT_FALSE(router.distilled_embedding().requires_grad());
}

TEST(StableMoERouter, BigramRouterAveragesTheCurrentAndPreviousTokenEmbeddings) {
  RouterOptions o = stable_options();
  o.stablemoe.bigram = true;
  StableMoERouter router(o);
  at::Tensor ids = at::tensor({4, 9, 2, 2, 11, 5}, at::kLong).view({2, 3});
  at::Tensor z = router.distilled_logits(ids);  // [6, E]
  const at::Tensor& emb = router.distilled_embedding();
  const at::Tensor& cen = router.distilled_centroids();
  auto logit = [&](const at::Tensor& feature) { return at::matmul(cen, feature); };
  EXPECT_TRUE(at::allclose(z[0], logit(emb[4])));                 // first: itself
  EXPECT_TRUE(at::allclose(z[1], logit((emb[9] + emb[4]) / 2)));  // mean with previous
  EXPECT_TRUE(at::allclose(z[3], logit(emb[2])));                 // new sequence
  EXPECT_TRUE(at::allclose(z[5], logit((emb[5] + emb[11]) / 2)));
}

// Issue 17 item 5: two routing groups (= two ranks) of 4 tokens, E = 2. Group 0 sends 3 tokens to
// expert 0 and 1 to expert 1; group 1 is balanced (2 / 2). Globally expert 0 is overloaded (5 of
// 8): the authors' global counts push group 1's expert-0 tokens down too; per-rank counts see
// group 1 as balanced and leave them alone.
std::shared_ptr<StableMoERouter> two_expert_router(bool global_counts,
                                                   double capacity_factor = 0.0) {
  RouterOptions o = stable_options(/*experts=*/2, /*hidden=*/2);
  o.stablemoe.global_counts = global_counts;
  o.stablemoe.capacity_factor = capacity_factor;
  auto router = std::make_shared<StableMoERouter>(o);
  at::NoGradGuard no_grad;
  router->centroids().copy_(at::eye(2, at::kFloat));  // s_t = x_t
  return router;
}

at::Tensor two_group_tokens() {
  // argmax: group 0 -> 0, 0, 0, 1; group 1 -> 0, 1, 0, 1.
  return at::tensor({1.0f, 0.0f, 0.9f, 0.1f, 0.8f, 0.0f, 0.0f, 1.0f,  //
                     0.7f, 0.2f, 0.1f, 0.6f, 0.5f, 0.0f, 0.0f, 0.4f})
      .view({8, 2})
      .requires_grad_(true);
}

TEST(StableMoERouter, GlobalCountsPushAnExpertBalancedOnOneRankButOverloadedGlobally) {
  for (bool global : {true, false}) {
    auto router = two_expert_router(global);
    at::Tensor x = two_group_tokens();
    RoutingContext ctx;
    ctx.step = 0;
    ctx.group_sizes = {4, 4};
    ctx.token_ids = at::arange(8, at::kLong);
    RoutingResult r = router->route(x, ctx);
    ASSERT_EQ(to_vector(r.expert_ids.squeeze(1)), (std::vector<int64_t>{0, 0, 0, 1, 0, 1, 0, 1}));
    ASSERT_EQ(r.losses[0].name, "stablemoe_balance");
    r.losses[0].value.backward();
    // d L / d s_{t,0} for group 1's expert-0 tokens (rows 4 and 6): factor (5 - 4) / 4 > 0
    // globally (pushed down), 0 per rank.
    for (int64_t t : {4, 6}) {
      const double g = x.grad()[t][0].item<double>();
      if (global) {
        EXPECT_GT(g, 0.0) << "token " << t << ": expert 0 is overloaded globally";
      } else {
        EXPECT_EQ(g, 0.0) << "token " << t;
      }
    }
    // The value: groups' sums of sigmoids with the global factors +-1/4, over T_g, averaged.
    at::Tensor sig = at::sigmoid(x.detach());
    double expected = 0.0;
    const int64_t a[8] = {0, 0, 0, 1, 0, 1, 0, 1};
    for (int64_t t = 0; t < 8; ++t)
      expected += (a[t] == 0 ? 0.25 : -0.25) * sig[t][a[t]].item<double>();
    if (global) EXPECT_NEAR(r.losses[0].value.item<double>(), expected / 4 / 2, 1e-6);
  }
}

// Issue 17 item 5: the global capacity int(cf * 8 / 2) = 4 counts the tokens expert 0 receives in
// arrival order (group 0 first): its 5th token (row 6) bypasses it, not group 0's third.
TEST(StableMoERouter, GlobalCapacityDropsInArrivalOrderOverAllGroups) {
  auto router = two_expert_router(true, /*capacity_factor=*/1.0);
  RoutingContext ctx;
  ctx.step = 0;
  ctx.group_sizes = {4, 4};
  ctx.token_ids = at::arange(8, at::kLong);
  RoutingResult r = router->route(two_group_tokens(), ctx);
  EXPECT_EQ(to_vector(r.expert_ids.squeeze(1)), (std::vector<int64_t>{0, 0, 0, 1, 0, 1, -1, 1}));
  EXPECT_EQ(r.probs[6][0].item<double>(), 0.0);
  ASSERT_EQ(r.metrics.size(), 1u);
  EXPECT_EQ(r.metrics[0].first, "stablemoe_dropped");
  EXPECT_DOUBLE_EQ(r.metrics[0].second, 1.0 / 8.0);
}

// Issue 17 item 5: the distilled router's embedding starts N(0, 1), as nn.Embedding's default in
// the authors' code.
TEST(StableMoERouter, DistilledEmbeddingStartsStandardNormal) {
  RouterOptions o = stable_options(4, 8, /*vocab=*/400);
  o.stablemoe.distilled_dim = 50;
  StableMoERouter router(o);
  const double std = router.distilled_embedding().std().item<double>();
  EXPECT_NEAR(std, 1.0, 0.02);  // 20000 draws: the sample std is within 0.02 of 1
  EXPECT_NEAR(router.distilled_embedding().mean().item<double>(), 0.0, 0.03);
}

TEST(StableMoERouter, OrthogonalInit) {
  at::Tensor q = seeded_orthogonal(4, 10, 0.1, 3);  // [4, 10], orthonormal rows * 0.1
  EXPECT_TRUE(at::allclose(at::matmul(q, q.t()), at::eye(4) * 0.01, 0, 1e-7));
  at::Tensor t = seeded_orthogonal(10, 4, 1.0, 3);  // orthonormal columns
  EXPECT_TRUE(at::allclose(at::matmul(t.t(), t), at::eye(4), 0, 1e-6));
  EXPECT_TRUE(at::equal(seeded_orthogonal(4, 10, 0.1, 3), q));  // seeded
}

MoEBuildOptions stable_layer(double capacity_factor) {
  testing::LayerSpec spec;
  spec.router = "stablemoe";
  spec.top_k = 1;
  spec.capacity_factor = capacity_factor;
  spec.lb_coeff = 0.0;
  spec.z_coeff = 0.0;
  MoEBuildOptions o = testing::build_options(spec);
  o.router.vocab_size = 20;
  o.router.stablemoe.stage2_step = 5;
  o.router.stablemoe.distilled_dim = 6;
  return o;
}

TEST(StableMoELayer, RouterLossesReachTheCollectorAndOutputsFollowTheGate) {
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(stable_layer(0.0), MoEParallel{}, &aux);
  at::Tensor x = make_tokens(16, 16, 7);  // [T, H]
  MoEForwardArgs args;
  args.step = 1;
  args.token_ids = at::arange(16, at::kLong).remainder(20);
  MoEOutput out = layer->forward(x, args);
  ASSERT_EQ(aux.entries().size(), 2u);
  EXPECT_EQ(aux.entries()[0].name, "stablemoe_balance");
  EXPECT_FLOAT_EQ(static_cast<float>(aux.entries()[0].coeff), 0.3f);
  EXPECT_EQ(aux.entries()[1].name, "stablemoe_distill");
  // Output row t = sigmoid(s_{t,a}) * expert_a(x_t).
  const RoutingResult& r = layer->last_routing();
  for (int64_t t = 0; t < 16; t += 5) {
    const int64_t e = r.expert_ids[t][0].item<int64_t>();
    at::Tensor alone = layer->experts().forward(x.narrow(0, t, 1), [&] {
      std::vector<int64_t> counts(4, 0);
      counts[static_cast<size_t>(e)] = 1;
      return counts;
    }());
    EXPECT_TRUE(at::allclose(out.output[t], alone[0] * r.probs[t][0], 1e-5, 1e-6)) << t;
  }
}

TEST(StableMoELayer, ZeroExpertOutputWeightsAndOverflowLeaveOnlyTheResidual) {
  // §1.8 item 8: with the experts' output projection zero the MoE output is 0, so the block
  // output x + MoE(x) equals its input for any gate value.
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(stable_layer(0.0), MoEParallel{}, &aux);
  {
    at::NoGradGuard no_grad;
    layer->experts().named_parameters()["w2"].zero_();
  }
  at::Tensor x = make_tokens(12, 16, 8);
  MoEForwardArgs args;
  args.token_ids = at::arange(12, at::kLong);
  EXPECT_TRUE(at::equal(layer->forward(x, args).output, at::zeros_like(x)));

  // §1.8 item 9: capacity 1 per expert (cf 0.25 of 16 tokens over 4 experts): an overflowed
  // token's MoE output is exactly 0, i.e. the block passes it through unchanged.
  MoELayer small = build_moe_layer(stable_layer(0.25), MoEParallel{}, &aux);
  at::Tensor y = make_tokens(16, 16, 9);
  args.token_ids = at::arange(16, at::kLong);
  MoEOutput out = small->forward(y, args);
  at::Tensor dropped = small->last_plan().keep.squeeze(1).logical_not();  // [T]
  ASSERT_GT(dropped.sum().item<int64_t>(), 0);
  for (int64_t t = 0; t < 16; ++t) {
    if (dropped[t].item<bool>())
      EXPECT_TRUE(at::equal(out.output[t], at::zeros({16})));
    else
      EXPECT_GT(out.output[t].abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace switchyard::models
