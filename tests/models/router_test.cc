// Routers: top-k (softmax/sigmoid, renormalization, jitter, bias, group-limited), GShard, expert
// choice, the registry, and the seeded global-batch noise.
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/errors.h"
#include "models/moe/router_noise.h"
#include "models/moe/router_registry.h"
#include "models/moe/routers/expert_choice_router.h"
#include "models/moe/routers/gshard_router.h"
#include "models/moe/routers/topk_router.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;

RouterOptions small_options(int64_t e = 4, int64_t k = 2, int64_t h = 8) {
  RouterOptions o;
  o.hidden_size = h;
  o.num_experts = e;
  o.top_k = k;
  o.init_std = 0.5;
  return o;
}

// Sets the router weight to the identity ([E, E], H = E), so logits = x.
template <typename R>
void identity_weight(R& router) {
  at::NoGradGuard no_grad;
  router.named_parameters()["weight"].copy_(at::eye(router.num_experts(), at::kFloat));
}

TEST(TopKRouter, SoftmaxTopKRenormalized) {
  TopKRouter router(small_options());
  at::Tensor x = make_tokens(10, 8, 1);
  RoutingResult r = router.route(x, {});
  ASSERT_EQ(r.expert_ids.sizes(), (std::vector<int64_t>{10, 2}));
  at::Tensor expected_ids = std::get<1>(at::softmax(at::linear(x, router.weight()), -1).topk(2));
  EXPECT_TRUE(at::equal(r.expert_ids, expected_ids));
  EXPECT_TRUE(at::allclose(r.probs.sum(-1), at::ones({10})));
  EXPECT_EQ(r.scores.scalar_type(), at::kFloat);
}

TEST(TopKRouter, SwitchTop1KeepsTheRawGate) {
  RouterOptions o = small_options(4, 1);
  o.normalize_top_k = false;
  TopKRouter router(o);
  at::Tensor x = make_tokens(6, 8, 2);
  RoutingResult r = router.route(x, {});
  EXPECT_TRUE(at::allclose(r.probs.squeeze(1), std::get<0>(r.scores.max(-1))));
  EXPECT_TRUE((r.probs < 1.0).all().item<bool>());
}

TEST(TopKRouter, RouterMathIsFloat32ForDoubleInput) {
  TopKRouter router(small_options());
  RoutingResult r = router.route(make_tokens(3, 8, 3).to(at::kDouble), {});
  EXPECT_EQ(r.logits.scalar_type(), at::kFloat);
  EXPECT_EQ(r.probs.scalar_type(), at::kFloat);
}

TEST(TopKRouter, JitterOnlyInTrainingAndSlicedFromTheGlobalBatch) {
  RouterOptions o = small_options();
  o.input_jitter_eps = 0.1;
  TopKRouter router(o);
  at::Tensor x = make_tokens(8, 8, 4);
  RoutingContext full;
  full.seed = 77;
  RoutingResult a = router.route(x, full);
  RoutingContext part = full;
  part.row_offset = 4;
  part.global_rows = 8;
  RoutingResult b = router.route(x.narrow(0, 4, 4), part);
  EXPECT_TRUE(at::equal(a.logits.narrow(0, 4, 4), b.logits));
  RoutingContext eval = full;
  eval.training = false;
  RoutingResult c = router.route(x, eval);
  EXPECT_TRUE(at::allclose(c.logits, at::linear(x, router.weight())));
  EXPECT_FALSE(at::allclose(a.logits, c.logits));
}

TEST(TopKRouter, SigmoidWithBiasSelectsBiasedButGatesUnbiased) {
  RouterOptions o = small_options(4, 1, 4);
  o.score_function = ScoreFunction::kSigmoid;
  o.aux_free_bias.enabled = true;
  o.normalize_top_k = false;
  o.aux_free_bias.update_rate = 0.5;
  TopKRouter router(o);
  identity_weight(router);
  at::Tensor x = at::tensor({2.0f, 1.0f, 0.0f, 0.0f}).view({1, 4});
  EXPECT_EQ(router.route(x, {}).expert_ids.item<int64_t>(), 0);
  // Expert 0 overloaded: bias 0 goes down by gamma, the others up.
  router.update_expert_bias(at::tensor({4, 0, 0, 0}, at::kLong));
  EXPECT_TRUE(at::allclose(router.expert_bias(), at::tensor({-0.5f, 0.5f, 0.5f, 0.5f})));
  router.update_expert_bias(at::tensor({4, 0, 0, 0}, at::kLong));
  RoutingResult r = router.route(x, {});
  EXPECT_EQ(r.expert_ids.item<int64_t>(), 1);  // sigmoid(2) - 1 < sigmoid(1) + 1
  EXPECT_NEAR(r.probs.item<float>(), 1.0 / (1.0 + std::exp(-1.0)), 1e-6);  // unbiased gate
  // Equal loads: bias unchanged.
  at::Tensor before = router.expert_bias().clone();
  router.update_expert_bias(at::tensor({3, 3, 3, 3}, at::kLong));
  EXPECT_TRUE(at::equal(before, router.expert_bias()));
}

TEST(TopKRouter, GroupLimitedUsesOnlyTheBestGroups) {
  RouterOptions o = small_options(8, 2, 8);
  o.group_limited.num_groups = 4;
  o.group_limited.group_top_k = 1;
  TopKRouter router(o);
  identity_weight(router);
  // Best single expert is 0 (group 0), but group 2 (experts 4, 5) has the larger sum of its top
  // k / group_top_k = 2 scores.
  at::Tensor x = at::tensor({5.0f, 0.0f, 0.0f, 0.0f, 4.5f, 4.5f, 0.0f, 0.0f}).view({1, 8});
  RoutingResult r = router.route(x, {});
  std::vector<int64_t> got(r.expert_ids.data_ptr<int64_t>(), r.expert_ids.data_ptr<int64_t>() + 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{4, 5}));
  // Many random tokens: the two experts always share a group.
  at::Tensor many = router.route(make_tokens(100, 8, 5), {}).expert_ids.div(2, "floor");
  EXPECT_TRUE(at::equal(many.select(1, 0), many.select(1, 1)));
}

TEST(GShardRouter, RandomKeepFollowsTwiceTheSecondGate) {
  RouterOptions o = small_options(2, 2, 2);
  o.kind = "gshard";
  GShardRouter router(o);
  identity_weight(router);
  const int64_t n = 20000;
  // g = [0.9, 0.1]: keep probability 0.2.
  at::Tensor x =
      at::tensor({std::log(0.9f), std::log(0.1f)}).view({1, 2}).expand({n, 2}).contiguous();
  RoutingContext ctx;
  ctx.seed = 5;
  RoutingResult r = router.route(x, ctx);
  const double kept = r.expert_ids.select(1, 1).ge(0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.2, 0.015);
  EXPECT_TRUE(r.expert_ids.select(1, 0).eq(0).all().item<bool>());  // first choice always kept
  // g2 = 0.5: always kept.
  at::Tensor half = at::zeros({1000, 2});
  EXPECT_TRUE(router.route(half, ctx).expert_ids.ge(0).all().item<bool>());
  // Balance loss counts the first choice only.
  EXPECT_EQ(r.balance_k, 1);
  EXPECT_EQ(r.balance_ids.size(1), 1);
  EXPECT_TRUE(r.renormalize_after_drop);
}

TEST(GShardRouter, DeterministicPolicyPicksTheSecondLargestLogit) {
  RouterOptions o = small_options(4, 2, 4);
  o.gshard.second_expert_policy = SecondExpertPolicy::kDeterministic;
  GShardRouter router(o);
  identity_weight(router);
  at::Tensor x = at::tensor({0.1f, 3.0f, 2.0f, -1.0f}).view({1, 4});
  RoutingResult r = router.route(x, {});
  EXPECT_TRUE(at::equal(r.expert_ids, at::tensor({1, 2}, at::kLong).view({1, 2})));
}

TEST(ExpertChoiceRouter, EveryExpertTakesExactlyKTokens) {
  RouterOptions o = small_options(4, 2, 8);
  o.expert_choice.capacity_factor = 2.0;
  ExpertChoiceRouter router(o);
  RoutingContext ctx;
  ctx.group_sizes = {12, 8};
  RoutingResult r = router.route(make_tokens(20, 8, 6), ctx);
  ASSERT_EQ(r.expert_ids.sizes(), (std::vector<int64_t>{20, 4}));
  // Group of 12: k = 12 * 2 / 4 = 6 per expert; group of 8: 4.
  at::Tensor chosen = r.expert_ids.ge(0);
  EXPECT_TRUE(at::equal(chosen.narrow(0, 0, 12).sum(0), at::full({4}, 6, at::kLong)));
  EXPECT_TRUE(at::equal(chosen.narrow(0, 12, 8).sum(0), at::full({4}, 4, at::kLong)));
  EXPECT_EQ(chosen.sum().item<int64_t>(), 4 * (6 + 4));
  EXPECT_TRUE(at::allclose(r.probs, r.scores * chosen.to(at::kFloat)));
  EXPECT_FALSE(r.balance_ids.defined());
}

// Issue 17 item 8: the tokens an expert chooses are its highest-scoring ones: in every group,
// every chosen token of expert e scores at least as high as every token e did not choose.
TEST(ExpertChoiceRouter, ChosenTokensAreTheHighestScoring) {
  RouterOptions o = small_options(4, 2, 8);
  ExpertChoiceRouter router(o);
  RoutingContext ctx;
  ctx.group_sizes = {12, 8};
  RoutingResult r = router.route(make_tokens(20, 8, 16), ctx);
  at::Tensor s = r.scores.detach();
  at::Tensor chosen = r.expert_ids.ge(0);
  int64_t start = 0;
  for (int64_t n : ctx.group_sizes) {
    for (int64_t e = 0; e < 4; ++e) {
      at::Tensor col = s.narrow(0, start, n).select(1, e);
      at::Tensor in = chosen.narrow(0, start, n).select(1, e);
      EXPECT_GE(col.masked_select(in).min().item<double>(),
                col.masked_select(in.logical_not()).max().item<double>())
          << "group at " << start << ", expert " << e;
    }
    start += n;
  }
}

// Issue 17 item 8: per-position expert choice (the causal remedy). Two groups (ranks) of 3
// sequences of 4 positions: every (position, expert) takes its top ceil(3 * 2 / 4) = 2 of the 3
// tokens at that position, the highest-scoring ones; and changing the later tokens of a sequence
// never changes the routing of its earlier tokens.
TEST(ExpertChoiceRouter, PerPositionChoiceIsCausalAndPicksTheBest) {
  RouterOptions o = small_options(4, 2, 8);
  o.expert_choice.per_position = true;
  o.expert_choice.seq_len = 4;
  ExpertChoiceRouter router(o);
  RoutingContext ctx;
  ctx.group_sizes = {12, 12};
  at::Tensor x = make_tokens(24, 8, 17);
  RoutingResult r = router.route(x, ctx);
  at::Tensor s = r.scores.detach().view({2, 3, 4, 4});  // [group, seq, pos, E]
  at::Tensor chosen = r.expert_ids.ge(0).view({2, 3, 4, 4});
  for (int64_t g = 0; g < 2; ++g) {
    for (int64_t pos = 0; pos < 4; ++pos) {
      for (int64_t e = 0; e < 4; ++e) {
        at::Tensor col = s[g].select(1, pos).select(1, e);      // [3] scores of the 3 sequences
        at::Tensor in = chosen[g].select(1, pos).select(1, e);  // [3]
        ASSERT_EQ(in.sum().item<int64_t>(), 2);
        EXPECT_GE(col.masked_select(in).min().item<double>(),
                  col.masked_select(in.logical_not()).max().item<double>());
      }
    }
  }
  // Causality: replace positions 2 and 3 of every sequence; positions 0 and 1 route the same.
  at::Tensor y = x.clone().view({2, 3, 4, 8});
  y.narrow(2, 2, 2).copy_(make_tokens(2 * 3 * 2 * 8, 1, 99).view({2, 3, 2, 8}));
  RoutingResult q = router.route(y.view({24, 8}), ctx);
  at::Tensor before = r.expert_ids.view({2, 3, 4, 4}).narrow(2, 0, 2);
  at::Tensor after = q.expert_ids.view({2, 3, 4, 4}).narrow(2, 0, 2);
  EXPECT_TRUE(at::equal(before, after));
  // Over whole routing groups (the paper's grouping) the same change moves earlier tokens.
  RouterOptions whole = small_options(4, 2, 8);
  ExpertChoiceRouter paper(whole);
  RoutingResult a = paper.route(x, ctx);
  RoutingResult b = paper.route(y.view({24, 8}), ctx);
  EXPECT_FALSE(at::equal(a.expert_ids.view({2, 3, 4, 4}).narrow(2, 0, 2),
                         b.expert_ids.view({2, 3, 4, 4}).narrow(2, 0, 2)));
}

class ConstantRouter : public Router {
 public:
  explicit ConstantRouter(const RouterOptions& o) : e_(o.num_experts) {}
  RoutingResult route(const at::Tensor& tokens, const RoutingContext&) override {
    RoutingResult r;
    r.logits = at::zeros({tokens.size(0), e_});
    r.scores = at::softmax(r.logits, -1);
    r.expert_ids = at::zeros({tokens.size(0), 1}, at::kLong);
    r.probs = at::ones({tokens.size(0), 1});
    return r;
  }
  int64_t num_experts() const override { return e_; }
  int64_t slots_per_token() const override { return 1; }

 private:
  int64_t e_;
};

TEST(RouterRegistry, BuiltinsCustomAndUnknown) {
  RouterRegistry registry = RouterRegistry::with_builtins();
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"expert_choice", "gshard", "locmoe",
                                                        "smile", "stablemoe", "top_k"}));
  registry.add("constant",
               [](const RouterOptions& o) { return std::make_shared<ConstantRouter>(o); });
  RouterOptions o = small_options();
  o.kind = "constant";
  auto router = registry.create(o);
  EXPECT_EQ(router->route(make_tokens(3, 8, 1), {}).expert_ids.sum().item<int64_t>(), 0);
  o.kind = "nope";
  EXPECT_THROW(registry.create(o), ConfigError);
  EXPECT_THROW(
      registry.add("constant",
                   [](const RouterOptions& o) { return std::make_shared<ConstantRouter>(o); }),
      InternalError);
}

TEST(RouterNoise, SlicesAgreeWithTheGlobalDraw) {
  at::Tensor all = uniform_rows(3, NoiseStream::kJitter, 0, 10, 10, 4);
  EXPECT_TRUE(at::equal(all.narrow(0, 6, 4), uniform_rows(3, NoiseStream::kJitter, 6, 4, 10, 4)));
  EXPECT_FALSE(at::equal(all, uniform_rows(3, NoiseStream::kGumbel, 0, 10, 10, 4)));
  EXPECT_NE(mix_seed(1, 2, 3), mix_seed(1, 2, 4));
}

}  // namespace
}  // namespace switchyard::models
