// Rectify-Router (Zeng et al., arXiv 2402.12399; ALGORITHMS.md §6): hand-constructed routings
// for intra-rank rectification (IR) and fill-in rectification (FR), the combine-weight formula,
// the straight-through gradient, and every testable property of §6.5.
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "models/moe/dispatch_plan.h"
#include "models/moe/local_dispatcher.h"
#include "models/moe/moe_builder.h"
#include "models/moe/routing_stats.h"
#include "models/moe/sequential_experts.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

// A top-k softmax routing of the given logits [T, E] (leaf with gradient).
RoutingResult routing_of(const at::Tensor& logits, int64_t k, bool normalize) {
  RoutingResult r;
  r.logits = logits;
  r.scores = at::softmax(logits, -1);
  r.expert_ids = std::get<1>(r.scores.detach().topk(k, -1));  // [T, k]
  r.probs = r.scores.gather(1, r.expert_ids);
  if (normalize) r.probs = r.probs / r.probs.sum(-1, true);
  r.normalized_weights = normalize;
  r.balance_ids = r.expert_ids;
  r.balance_k = k;
  return r;
}

CapacityOptions capacity(double cf, int64_t k, bool ir, bool fr) {
  CapacityOptions c;
  c.capacity_factor = cf;
  c.top_k = k;
  c.rectify.intra_rank = ir;
  c.rectify.fill_in = fr;
  return c;
}

// Kept rows of a plan as (token, expert) -> weight.
std::map<std::pair<int64_t, int64_t>, double> rows_of(const DispatchPlan& p) {
  std::map<std::pair<int64_t, int64_t>, double> out;
  int64_t row = 0;
  for (int64_t e = 0; e < p.num_experts; ++e) {
    for (int64_t i = 0; i < p.tokens_per_expert[e]; ++i, ++row) {
      out[{p.token_index[row].item<int64_t>(), e}] += p.weights[row].item<double>();
    }
  }
  return out;
}

std::vector<int64_t> to_vec(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

at::Tensor logits_of(std::vector<std::vector<float>> rows) {
  std::vector<at::Tensor> t;
  for (auto& r : rows) t.push_back(at::tensor(r));
  return at::stack(t).requires_grad_(true);  // [T, E]
}

TEST(Rectify, IntraRankTopOneSendsDroppedTokensToTheBestLocalExpert) {
  // E = 4 on P = 2 emulated ranks (experts {0,1} on rank 0, {2,3} on rank 1); two routing groups
  // of 4 tokens (group g = world rank g). cf 1, k 1 -> C = 1 per group and expert.
  at::Tensor logits = logits_of({{0.0f, 0.2f, 3.0f, 0.1f},    // t0: expert 2, kept
                                 {0.5f, 1.0f, 3.0f, 0.0f},    // t1: expert 2, dropped -> 1
                                 {2.0f, 0.1f, 3.0f, 0.0f},    // t2: expert 2, dropped -> 0
                                 {3.0f, 0.0f, 0.0f, 0.0f},    // t3: expert 0, kept
                                 {3.0f, 0.0f, 1.0f, 0.5f},    // t4 (rank 1): expert 0, kept
                                 {3.0f, 0.0f, 0.2f, 0.9f},    // t5: expert 0, dropped -> 3
                                 {0.0f, 0.0f, 0.0f, 2.0f},    // t6: expert 3, kept
                                 {3.0f, 0.0f, 1.0f, 0.5f}});  // t7: expert 0, dropped -> 2
  RoutingResult r = routing_of(logits, 1, /*normalize=*/false);
  CapacityOptions c = capacity(1.0, 1, true, false);
  c.rectify.expert_parallel_size = 2;
  DispatchPlan p = make_dispatch_plan(r, 4, c, {4, 4}, RoutingContext{});
  EXPECT_EQ(p.num_dropped, 4);
  ASSERT_TRUE(p.rectified.has_value());
  EXPECT_EQ(p.rectified->num_intra_rank, 4);
  EXPECT_EQ(to_vec(p.rectified->expert_ids.select(1, 0)),
            std::vector<int64_t>({-1, 1, 0, -1, -1, 3, -1, 2}));
  EXPECT_EQ(to_vec(p.rectified->expert_ids.select(1, 1)), std::vector<int64_t>(8, -1));
  // Switch gates (no renormalization): a rectified top-1 token gets its router probability of
  // the IR expert, s_ih < 1, on the scale of the kept tokens' gates p_{i*} (issue 17 item 4;
  // §6.5 item 2's weight 1 holds for renormalized gates, see the straight-through test).
  auto rows = rows_of(p);
  at::Tensor sc = r.scores.detach();
  const std::map<std::pair<int64_t, int64_t>, double> expected_w = {
      {{1, 1}, sc[1][1].item<double>()},
      {{2, 0}, sc[2][0].item<double>()},
      {{5, 3}, sc[5][3].item<double>()},
      {{7, 2}, sc[7][2].item<double>()}};
  for (const auto& [key, w] : expected_w) EXPECT_NEAR(rows.at(key), w, 1e-6);
  EXPECT_NEAR(rows.at({0, 2}), r.probs[0][0].item<double>(), 1e-7);
  EXPECT_EQ(rows.size(), 8u);  // 4 kept + 4 rectified (t1, t2 dropped from expert 2: no row)
  EXPECT_EQ(rows.count({1, 2}), 0u);
}

TEST(Rectify, IntraRankTopTwoWeightsAndTheExcludeKeptOption) {
  // One rank (EP rank 0 of P = 2: experts {0, 1} local), k = 2, T = 3 -> C = ceil(3*2/4) = 2.
  // t0, t1 take both slots of experts 2 and 3; t2 (top-2 {2, 1}) is dropped by expert 2 and kept
  // by expert 1: d = 1, R = {1}.
  at::Tensor logits =
      logits_of({{0.0f, 1.0f, 3.0f, 2.0f}, {0.5f, 0.2f, 3.0f, 2.5f}, {0.1f, 0.3f, 3.0f, -1.0f}});
  RoutingResult r = routing_of(logits, 2, /*normalize=*/true);
  CapacityOptions c = capacity(1.0, 2, true, false);
  c.rectify.expert_parallel_size = 2;
  c.rectify.expert_parallel_rank = 0;
  DispatchPlan p = make_dispatch_plan(r, 4, c, {}, RoutingContext{});
  // Literal formula: h = argmax over {0, 1} of (0.1, 0.3) = 1 although 1 is accepted; weights
  // (e^.3 + 1 * e^.3) / (2 e^.3): expert 1 gets weight 1 in total (two rows of 1/2).
  ASSERT_TRUE(p.rectified.has_value());
  EXPECT_EQ(to_vec(p.rectified->expert_ids.select(1, 0)), std::vector<int64_t>({-1, -1, 1}));
  auto rows = rows_of(p);
  EXPECT_NEAR(rows.at({2, 1}), 1.0, 1e-6);
  EXPECT_EQ(rows.count({2, 2}), 0u);
  // Unrectified tokens keep the router's renormalized top-2 weights.
  EXPECT_NEAR(rows.at({0, 2}), r.probs[0][0].item<double>(), 1e-7);
  EXPECT_NEAR(rows.at({0, 3}), r.probs[0][1].item<double>(), 1e-7);

  c.rectify.intra_rank_exclude_kept = true;  // h = 0
  DispatchPlan q = make_dispatch_plan(r, 4, c, {}, RoutingContext{});
  ASSERT_TRUE(q.rectified.has_value());
  EXPECT_EQ(to_vec(q.rectified->expert_ids.select(1, 0)), std::vector<int64_t>({-1, -1, 0}));
  auto qrows = rows_of(q);
  const double e1 = std::exp(0.3), e0 = std::exp(0.1);
  EXPECT_NEAR(qrows.at({2, 1}), e1 / (e1 + e0), 1e-6);
  EXPECT_NEAR(qrows.at({2, 0}), e0 / (e1 + e0), 1e-6);
}

// FR case: E = 4, k = 1, one group of T = 8, cf 1 -> C = 2. Experts 0, 1, 2 are full (t2 and
// t7 dropped), expert 3 is empty: 2 free slots. Candidates of expert 3 ((k+1)-th choice, logit):
// t0 (1), t1 (1), t2 (3), t3 (1), t5 (0.5) -> t2 first, then the tie t0/t1/t3 -> t0.
at::Tensor fill_in_logits() {
  return logits_of({{5.0f, 0.0f, 0.0f, 1.0f},    // t0: e0 kept, cand 3
                    {5.0f, 0.0f, 0.0f, 1.0f},    // t1: e0 kept, cand 3
                    {5.0f, 0.0f, 0.0f, 3.0f},    // t2: e0 dropped, cand 3
                    {0.0f, 5.0f, 0.0f, 1.0f},    // t3: e1, cand 3
                    {0.0f, 5.0f, 1.0f, 0.0f},    // t4: e1, cand 2
                    {0.0f, 0.0f, 5.0f, 0.5f},    // t5: e2, cand 3
                    {0.0f, 1.0f, 5.0f, 0.0f},    // t6: e2, cand 1
                    {0.0f, 0.0f, 6.0f, 0.0f}});  // t7: e2 dropped, cand 0
}

TEST(Rectify, FillInTakesTheBestSecondChoicesIntoFreeSlots) {
  at::Tensor logits = fill_in_logits();
  RoutingResult r = routing_of(logits, 1, /*normalize=*/true);
  DispatchPlan p = make_dispatch_plan(r, 4, capacity(1.0, 1, false, true), {}, RoutingContext{});
  EXPECT_EQ(p.capacities, std::vector<int64_t>({2}));
  ASSERT_TRUE(p.rectified.has_value());
  EXPECT_EQ(to_vec(p.rectified->expert_ids.select(1, 1)),
            std::vector<int64_t>({3, -1, 3, -1, -1, -1, -1, -1}));
  EXPECT_EQ(p.rectified->num_fill_in, 2);
  // §6.5 item 4: every expert processes min(C, load + candidates) = C rows here.
  EXPECT_EQ(p.tokens_per_expert, std::vector<int64_t>({2, 2, 2, 2}));
  // Weights: t0 renormalized over {0, 3}; t2 (dropped) has weight 1 on its filled expert.
  auto rows = rows_of(p);
  const double e5 = std::exp(5.0), e1 = std::exp(1.0);
  EXPECT_NEAR(rows.at({0, 0}), e5 / (e5 + e1), 1e-6);
  EXPECT_NEAR(rows.at({0, 3}), e1 / (e5 + e1), 1e-6);
  EXPECT_NEAR(rows.at({2, 3}), 1.0, 1e-6);
  EXPECT_NEAR(rows.at({1, 0}), r.probs[1][0].item<double>(), 1e-7);  // not rectified

  // fill_in_renormalize = false (or a router whose gates are not renormalized): the accepted
  // weight stays p, the filled expert adds its p.
  RoutingResult raw = routing_of(logits, 1, /*normalize=*/false);
  CapacityOptions c = capacity(1.0, 1, false, true);
  c.rectify.fill_in_renormalize = false;
  auto qrows = rows_of(make_dispatch_plan(raw, 4, c, {}, RoutingContext{}));
  EXPECT_EQ(rows_of(make_dispatch_plan(raw, 4, capacity(1.0, 1, false, true), {}, {})), qrows);
  at::Tensor s = raw.scores.detach();
  EXPECT_NEAR(qrows.at({0, 0}), s[0][0].item<double>(), 1e-7);
  EXPECT_NEAR(qrows.at({0, 3}), s[0][3].item<double>(), 1e-7);
  EXPECT_NEAR(qrows.at({2, 3}), s[2][3].item<double>(), 1e-7);
}

TEST(Rectify, FillInOrderIsDescendingScoreAndCountsAreMinOfCapacityAndDemand) {
  // §6.5 items 4-5 on random routings: per expert rows = min(C, load + candidates); the filled
  // candidates of an expert all score at least as high as its unfilled ones.
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const int64_t t = 24, e = 6, k = 1 + seed % 2;
    at::Tensor logits = make_tokens(t, e, 300 + seed).mul(2.0).requires_grad_(true);
    RoutingResult r = routing_of(logits, k, true);
    const double cf = 0.5 + 0.25 * (seed % 4);
    DispatchPlan p = make_dispatch_plan(r, e, capacity(cf, k, false, true), {}, RoutingContext{});
    const int64_t cap = p.capacities[0];
    at::Tensor keep = p.keep;
    at::Tensor ids = r.expert_ids;
    ASSERT_TRUE(p.rectified.has_value());
    at::Tensor fill = p.rectified->expert_ids.select(1, 1);
    at::Tensor a = logits.detach();
    for (int64_t x = 0; x < e; ++x) {
      const int64_t load = (ids.eq(x) & keep).sum().item<int64_t>();
      // Candidates of x: tokens whose best unselected expert is x.
      at::Tensor masked = a.clone();
      masked.scatter_(1, ids, -1e30);
      at::Tensor cand = masked.argmax(1).eq(x);  // [T]
      const int64_t n_cand = cand.sum().item<int64_t>();
      EXPECT_EQ(p.tokens_per_expert[x], std::min(cap, load + n_cand)) << seed << " expert " << x;
      at::Tensor score = a.select(1, x);
      at::Tensor filled = fill.eq(x);
      at::Tensor unfilled = cand & filled.logical_not();
      if (filled.any().item<bool>() && unfilled.any().item<bool>()) {
        EXPECT_GE(score.masked_select(filled).min().item<double>(),
                  score.masked_select(unfilled).max().item<double>());
      }
    }
  }
}

TEST(Rectify, NoOverflowAndNoPaddingIsTheVanillaRouter) {
  // §6.5 item 1: loads exactly C = 2 for every expert -> identical plan, weights and gradients.
  at::Tensor logits = logits_of({{3.0f, 0.0f, 0.0f, 1.0f},
                                 {3.0f, 1.0f, 0.0f, 0.0f},
                                 {0.0f, 3.0f, 0.0f, 1.0f},
                                 {0.0f, 3.0f, 1.0f, 0.0f},
                                 {0.0f, 1.0f, 3.0f, 0.0f},
                                 {1.0f, 0.0f, 3.0f, 0.0f},
                                 {0.0f, 0.0f, 1.0f, 3.0f},
                                 {1.0f, 0.0f, 0.0f, 3.0f}});
  RoutingResult r = routing_of(logits, 1, false);
  DispatchPlan vanilla = make_dispatch_plan(r, 4, capacity(1.0, 1, false, false), {}, {});
  CapacityOptions c = capacity(1.0, 1, true, true);
  c.rectify.expert_parallel_size = 2;
  DispatchPlan rect = make_dispatch_plan(r, 4, c, {}, {});
  ASSERT_TRUE(rect.rectified.has_value());
  EXPECT_EQ(rect.rectified->num_intra_rank + rect.rectified->num_fill_in, 0);
  EXPECT_TRUE(at::equal(vanilla.token_index, rect.token_index));
  EXPECT_TRUE(at::equal(vanilla.weights, rect.weights));
  at::Tensor g1 =
      torch::autograd::grad({vanilla.weights.sum()}, {logits}, {}, /*retain_graph=*/true)[0];
  at::Tensor g2 = torch::autograd::grad({rect.weights.sum()}, {logits})[0];
  EXPECT_TRUE(at::equal(g1, g2));
}

TEST(Rectify, StraightThroughGivesTheRouterAGradientForARectifiedTopOneToken) {
  // §6.5 item 6: t1 of the IR example has weight e^{a_h} / const(e^{a_h}) = 1; d w / d a_h = 1.
  at::Tensor logits = logits_of({{0.0f, 0.2f, 3.0f, 0.1f}, {0.5f, 1.0f, 3.0f, 0.0f}});
  RoutingResult r = routing_of(logits, 1, /*normalize=*/true);
  CapacityOptions c = capacity(0.5, 1, true, false);  // C = 1
  c.rectify.expert_parallel_size = 2;
  c.rectify.expert_parallel_rank = 0;
  DispatchPlan p = make_dispatch_plan(r, 4, c, {}, {});
  auto rows = rows_of(p);
  ASSERT_EQ(rows.count({1, 1}), 1u);
  at::Tensor w = p.weights.masked_select(p.token_index.eq(1)).sum();
  at::Tensor g = torch::autograd::grad({w}, {logits})[0];
  EXPECT_NEAR(g[1][1].item<double>(), 1.0, 1e-6);
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
}

// Issue 17 item 4: with one rank every expert is local, so the literal argmax would send a token
// dropped by expert e straight back to e, uncapped. The dropping expert is excluded, and IR rows
// per (group, expert) are at most ceil(f * C), highest logit first.
TEST(Rectify, IntraRankNeverReturnsToTheDroppingExpertAndIsBounded) {
  const int64_t t = 12, e = 4;
  // Every token prefers expert 0 (logit 4); second choices 1, 2, 3 with varied logits.
  std::vector<std::vector<float>> rows;
  for (int64_t i = 0; i < t; ++i) {
    std::vector<float> row(e, 0.0f);
    row[0] = 4.0f;
    row[1 + i % 3] = 1.0f + 0.1f * static_cast<float>(i);
    rows.push_back(row);
  }
  at::Tensor logits = logits_of(rows);
  for (bool normalize : {false, true}) {
    RoutingResult r = routing_of(logits, 1, normalize);
    for (double f : {1.0, 0.5}) {
      CapacityOptions c = capacity(1.0, 1, true, false);  // C = ceil(12 / 4) = 3
      c.rectify.intra_rank_capacity_factor = f;
      DispatchPlan p = make_dispatch_plan(r, e, c, {}, RoutingContext{});
      ASSERT_EQ(p.capacities, std::vector<int64_t>({3}));
      ASSERT_TRUE(p.rectified.has_value());
      at::Tensor h = p.rectified->expert_ids.select(1, 0);  // [T]
      const int64_t bound = static_cast<int64_t>(std::ceil(f * 3));
      std::vector<int64_t> ir_load(e, 0);
      for (int64_t i = 0; i < t; ++i) {
        const int64_t hv = h[i].item<int64_t>();
        if (hv < 0) continue;
        EXPECT_NE(hv, 0) << "token " << i << " sent back to the expert that dropped it";
        EXPECT_FALSE(p.keep[i][0].item<bool>()) << "only dropped tokens are rectified";
        ++ir_load[hv];
      }
      for (int64_t x = 0; x < e; ++x) {
        EXPECT_LE(ir_load[x], bound) << "expert " << x << " f " << f;
        EXPECT_LE(p.tokens_per_expert[x], 3 + bound) << "expert " << x;
      }
      // 9 dropped tokens, second choices spread 3/3/3 over experts 1-3: each takes the bound.
      EXPECT_EQ(p.rectified->num_intra_rank, 3 * bound);
      // Highest logit first: token 11 (logit 2.1, expert 3) wins over token 5 (1.5, expert 3).
      EXPECT_EQ(h[11].item<int64_t>(), 3);
    }
  }
}

// Issue 17 item 4: with gates that do not sum to 1 (Switch top-1, sigmoid) a rectified token
// gets its router score s_ih, never weight 1 while the kept tokens keep p < 1.
TEST(Rectify, UnnormalizedGatesKeepTheRouterScaleForRectifiedTokens) {
  at::Tensor logits = logits_of({{3.0f, 1.0f, 0.0f, 0.0f}, {3.0f, 0.0f, 2.0f, 0.0f}});
  for (bool sigmoid : {false, true}) {
    RoutingResult r = routing_of(logits, 1, /*normalize=*/false);
    if (sigmoid) {
      r.scores = at::sigmoid(logits);
      r.probs = r.scores.gather(1, r.expert_ids);
    }
    CapacityOptions c = capacity(0.5, 1, true, false);  // C = 1: t1 dropped by expert 0
    DispatchPlan p = make_dispatch_plan(r, 4, c, {}, RoutingContext{});
    auto rows = rows_of(p);
    const double s12 = r.scores[1][2].item<double>();
    ASSERT_EQ(rows.count({1, 2}), 1u);
    EXPECT_NEAR(rows.at({1, 2}), s12, 1e-6) << sigmoid;
    EXPECT_LT(rows.at({1, 2}), 1.0);
    EXPECT_NEAR(rows.at({0, 0}), r.probs[0][0].item<double>(), 1e-7);
    // The weight is differentiable through the router score (no straight-through needed).
    at::Tensor w = p.weights.masked_select(p.token_index.eq(1)).sum();
    at::Tensor g = torch::autograd::grad({w}, {logits})[0];
    EXPECT_GT(std::abs(g[1][2].item<double>()), 0.0);
  }
}

TEST(Rectify, IntraRankExpertsAlwaysLiveOnTheTokensRank) {
  // §6.5 item 3 (the single-process half; the mpi test compares all-to-all traffic): IR rows
  // never leave the token's rank, so they add no bytes to the exchange.
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const int64_t ranks = 4, per = 6, e = 8;
    at::Tensor logits = make_tokens(ranks * per, e, 500 + seed).mul(2.0).requires_grad_(true);
    RoutingResult r = routing_of(logits, 2, true);
    CapacityOptions c = capacity(0.5, 2, true, false);
    c.rectify.expert_parallel_size = 2;
    std::vector<int64_t> groups(ranks, per);
    DispatchPlan p = make_dispatch_plan(r, e, c, groups, {});
    ASSERT_TRUE(p.rectified.has_value());
    at::Tensor h = p.rectified->expert_ids.select(1, 0);
    for (int64_t t = 0; t < ranks * per; ++t) {
      const int64_t hv = h[t].item<int64_t>();
      if (hv < 0) continue;
      const int64_t ep_rank = (t / per) % 2;
      EXPECT_EQ(hv / (e / 2), ep_rank) << "token " << t;
    }
    EXPECT_GT(p.rectified->num_intra_rank, 0);
  }
}

TEST(Rectify, LayerOutputMatchesTheDirectExpertComputation) {
  // Optimized (batched dispatch/combine of the extended plan) vs a per-row direct computation.
  testing::LayerSpec s;
  s.experts = 4;
  s.top_k = 1;
  s.normalize = false;
  s.capacity_factor = 1.0;  // C = T / E: any imbalance both drops and pads
  MoEBuildOptions o = testing::build_options(s);
  o.layer.capacity.rectify.intra_rank = true;
  o.layer.capacity.rectify.fill_in = true;
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  at::Tensor x = make_tokens(40, s.hidden, 8);
  at::Tensor y = layer->forward(x, {2, {}}).output;
  const DispatchPlan& p = layer->last_plan();
  EXPECT_GT(p.num_dropped, 0);
  ASSERT_TRUE(p.rectified.has_value());
  EXPECT_GT(p.rectified->num_intra_rank, 0);
  EXPECT_GT(p.rectified->num_fill_in, 0);
  // Statistics count the router's own kept assignments, not the rectified rows.
  const RoutingStats stats = compute_routing_stats(layer->last_routing(), p);
  int64_t kept = 0;
  for (int64_t c : stats.kept_per_expert) kept += c;
  EXPECT_EQ(kept, p.num_selected - p.num_dropped);
  ASSERT_EQ(stats.router_metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(stats.router_metrics[0].second,
                   static_cast<double>(p.rectified->num_intra_rank) / 40.0);
  EXPECT_DOUBLE_EQ(stats.router_metrics[1].second,
                   static_cast<double>(p.rectified->num_fill_in) / 40.0);
  at::Tensor w1 = layer->experts().w1().detach();
  at::Tensor w2 = layer->experts().w2().detach();
  at::Tensor expected = at::zeros_like(x);
  for (const auto& [key, w] : rows_of(p)) {
    const auto [t, e] = key;
    at::Tensor h = at::gelu(x[t].unsqueeze(0).mm(w1[e])).mm(w2[e]);  // [1, H]
    expected[t] += h.squeeze(0) * w;
  }
  EXPECT_LT(relative_error(y, expected), 1e-5);
}

}  // namespace
}  // namespace switchyard::models
