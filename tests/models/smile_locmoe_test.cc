// SMILE bi-level routing (arXiv 2212.05191) and LocMoE locality routing (arXiv 2401.13920): the
// testable properties of ALGORITHMS.md §4.5 (items 2-5) and §5.6 (items 1-4), plus the
// per-level capacity and the layer wiring. §4.5 items 1 and 6 and the distributed equivalence are
// in locality_routing_mpi_test.cc.
#include <cmath>
#include <memory>
#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/aux_losses.h"
#include "models/moe/moe_builder.h"
#include "models/moe/router_registry.h"
#include "models/moe/routers/locmoe_math.h"
#include "models/moe/routers/locmoe_router.h"
#include "models/moe/routers/smile_balance.h"
#include "models/moe/routers/smile_router.h"
#include "models/moe/routers/topk_router.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

RouterOptions smile_options(int64_t experts, int64_t nodes, int64_t hidden = 8) {
  RouterOptions o;
  o.kind = "smile";
  o.hidden_size = hidden;
  o.num_experts = experts;
  o.num_nodes = nodes;
  o.top_k = 1;
  o.normalize_top_k = false;
  o.init_std = 0.5;
  o.init_seed = 3;
  return o;
}

at::Tensor mask(std::initializer_list<int64_t> values) {
  return at::tensor(values, at::kLong).to(at::kBool);
}

double loss_named(const RoutingResult& r, const std::string& name) {
  for (const RouterLoss& l : r.losses) {
    if (l.name == name) return l.value.item<double>();
  }
  ADD_FAILURE() << "no loss " << name;
  return -1;
}

// §4.5 item 2: with one expert per node the layer is a Switch layer over the N nodes.
TEST(SmileRouter, OneExpertPerNodeIsSwitchOverNodes) {
  SmileRouter smile(smile_options(4, 4));
  RouterOptions switch_opts = smile_options(4, 4);
  switch_opts.kind = "top_k";
  TopKRouter top1(switch_opts);
  {
    at::NoGradGuard no_grad;
    top1.named_parameters()["weight"].copy_(smile.node_weight());
  }
  at::Tensor x = make_tokens(40, 8, 1);
  RoutingResult s = smile.route(x, {});
  RoutingResult t = top1.route(x, {});
  EXPECT_TRUE(at::equal(s.expert_ids, t.expert_ids));
  EXPECT_LT(relative_error(s.probs, t.probs), 1e-6);
  EXPECT_LT(relative_error(s.scores, t.scores), 1e-6);
  const double switch_loss = load_balancing_loss(t.scores, t.expert_ids, 1).item<double>();
  EXPECT_NEAR(loss_named(s, "smile_node_balance"), switch_loss, 1e-6);
  EXPECT_NEAR(loss_named(s, "smile_local_balance"), 1.0, 1e-6);  // M = 1: constant
}

// §4.5 item 3: with one node the inter-node level is a no-op: Switch over the node's experts.
TEST(SmileRouter, OneNodeIsSwitchOverLocalExperts) {
  SmileRouter smile(smile_options(4, 1));
  RouterOptions switch_opts = smile_options(4, 1);
  TopKRouter top1(switch_opts);
  {
    at::NoGradGuard no_grad;
    top1.named_parameters()["weight"].copy_(smile.local_weight());
  }
  at::Tensor x = make_tokens(40, 8, 2);
  RoutingResult s = smile.route(x, {});
  RoutingResult t = top1.route(x, {});
  EXPECT_TRUE(at::equal(s.expert_ids, t.expert_ids));
  EXPECT_LT(relative_error(s.probs, t.probs), 1e-6);
  EXPECT_NEAR(loss_named(s, "smile_local_balance"),
              load_balancing_loss(t.scores, t.expert_ids, 1).item<double>(), 1e-6);
  EXPECT_NEAR(loss_named(s, "smile_node_balance"), 1.0, 1e-6);
}

// §4.5 item 4: each level's loss is 1 (alpha after the coefficient) under uniform routing, and
// N (resp. M) when every token goes to one node (expert) with probability ~1.
TEST(SmileRouter, BalanceLossesUniformAndCollapsed) {
  SmileRouter smile(smile_options(8, 2));
  {
    at::NoGradGuard no_grad;
    smile.named_parameters()["node_weight"].zero_();
    smile.named_parameters()["local_weight"].zero_();
  }
  at::Tensor x = make_tokens(16, 8, 3);
  RoutingResult u = smile.route(x, {});
  EXPECT_NEAR(loss_named(u, "smile_node_balance"), 1.0, 1e-6);
  EXPECT_NEAR(loss_named(u, "smile_local_balance"), 1.0, 1e-6);
  for (const RouterLoss& l : u.losses) EXPECT_DOUBLE_EQ(l.coeff, 0.01);
  {
    at::NoGradGuard no_grad;
    // Every token has feature 0 = 1: node 1 and local expert 2 win with probability ~1.
    smile.named_parameters()["node_weight"][1][0] = 100.0;
    smile.named_parameters()["local_weight"][2][0] = 100.0;
  }
  at::Tensor ones = at::zeros({16, 8});
  ones.select(1, 0).fill_(1.0);
  RoutingResult c = smile.route(ones, {});
  EXPECT_NEAR(loss_named(c, "smile_node_balance"), 2.0, 1e-4);
  EXPECT_NEAR(loss_named(c, "smile_local_balance"), 4.0, 1e-4);
  EXPECT_TRUE(at::equal(c.expert_ids, at::full({16, 1}, 1 * 4 + 2, at::kLong)));
}

// §4.2: gate = q_a * r_b; the joint scores sum to 1 and equal the gate at the chosen expert;
// the per-node option uses the chosen node's local router rows; gradients reach both routers.
TEST(SmileRouter, GateIsProductOfLevelsAndPerNodeRouters) {
  for (bool per_node : {false, true}) {
    RouterOptions o = smile_options(8, 2);
    o.smile.router_per_node = per_node;
    SmileRouter smile(o);
    EXPECT_EQ(smile.local_weight().size(0), per_node ? 8 : 4);
    at::Tensor x = make_tokens(20, 8, 4);
    RoutingResult r = smile.route(x, {});
    at::Tensor q = at::softmax(at::linear(x, smile.node_weight()), -1);  // [T, N]
    at::Tensor a = q.argmax(-1);
    for (int64_t t = 0; t < 20; ++t) {
      const int64_t node = a[t].item<int64_t>();
      at::Tensor w = per_node ? smile.local_weight().narrow(0, node * 4, 4) : smile.local_weight();
      at::Tensor rt = at::softmax(at::mv(w, x[t]), -1);  // [M]
      const int64_t b = rt.argmax().item<int64_t>();
      EXPECT_EQ(r.expert_ids[t][0].item<int64_t>(), node * 4 + b);
      EXPECT_NEAR(r.probs[t][0].item<double>(), (q[t][node] * rt[b]).item<double>(), 1e-6);
      EXPECT_NEAR(r.scores[t][node * 4 + b].item<double>(), r.probs[t][0].item<double>(), 1e-6);
    }
    EXPECT_LT(relative_error(r.scores.sum(-1), at::ones({20})), 1e-6);
    EXPECT_FALSE(r.balance_ids.defined());  // no standard balance loss on top of SMILE's
    r.probs.sum().backward();
    EXPECT_GT(smile.node_weight().grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(smile.local_weight().grad().abs().sum().item<double>(), 0.0);
  }
}

// Issue 17 item 6: two nodes of M = 2 experts; token type A (feature 0) goes to node 0 / local
// expert 0, type B (feature 1) to node 1 / local 0, type C (feature 2) to node 1 / local 1.
std::shared_ptr<SmileRouter> typed_smile(double capacity_factor) {
  RouterOptions o = smile_options(4, 2);
  o.smile.capacity_factor = capacity_factor;
  auto smile = std::make_shared<SmileRouter>(o);
  at::NoGradGuard no_grad;
  auto p = smile->named_parameters();
  p["node_weight"].zero_();
  p["local_weight"].zero_();
  p["node_weight"][0][0] = 6.0;
  p["node_weight"][1][1] = 6.0;
  p["node_weight"][1][2] = 6.0;
  p["local_weight"][0][0] = 6.0;
  p["local_weight"][0][1] = 6.0;
  p["local_weight"][1][2] = 6.0;
  return smile;
}

at::Tensor typed_tokens(const std::vector<int64_t>& types) {
  at::Tensor x = at::zeros({static_cast<int64_t>(types.size()), 8});
  for (size_t i = 0; i < types.size(); ++i) x[static_cast<int64_t>(i)][types[i]] = 1.0;
  return x;
}

// Issue 17 item 6: node 0's tokens all pick its local expert 0 and node 1's all pick its local
// expert 1. Pooled over the nodes the local statistics look balanced (exactly 1); per destination
// node each node has an idle expert and the loss reads about M = 2.
TEST(SmileRouter, LocalBalanceIsPerDestinationNode) {
  auto smile = typed_smile(0.0);
  at::Tensor x = typed_tokens({0, 2, 0, 2, 0, 2, 0, 2});  // A and C alternate
  RoutingResult r = smile->route(x, {});
  ASSERT_TRUE(at::equal(r.expert_ids.squeeze(1), at::tensor({0, 3, 0, 3, 0, 3, 0, 3}, at::kLong)));
  const double loss = loss_named(r, "smile_local_balance");
  EXPECT_GT(loss, 1.9);  // balanced value 1
  EXPECT_LE(loss, 2.0 + 1e-6);
  // Node 1 balanced (B and C split it), node 0 not (only A): 0.5 * 2 + 0.5 * 1, about 1.5.
  RoutingResult b = smile->route(typed_tokens({0, 1, 0, 2, 0, 1, 0, 2}), {});
  EXPECT_LT(loss_named(b, "smile_local_balance"), loss);
}

// Issue 17 item 6: the level-2 capacity is counted at the receiving node over every source
// group. Groups (= source ranks) {A, A, B, C} twice, cf 1: level 1 keeps everything (2 per node
// and group). Node 0 receives 4 tokens for expert 0: C = ceil(4 / 2) = 2, so the first two
// arrivals (group 0) are kept and group 1's both dropped; counted per source group, each group's
// second A would have been dropped instead.
TEST(SmileCapacity, LevelTwoIsCountedAtTheReceivingNode) {
  auto smile = typed_smile(1.0);
  RoutingContext ctx;
  ctx.group_sizes = {4, 4};
  RoutingResult r = smile->route(typed_tokens({0, 0, 1, 2, 0, 0, 1, 2}), ctx);
  EXPECT_TRUE(
      at::equal(r.expert_ids.squeeze(1), at::tensor({0, 0, 2, 3, -1, -1, 2, 3}, at::kLong)));
  int64_t d1 = -1, d2 = -1;
  at::Tensor keep = smile_receiver_capacity_keep(at::tensor({0, 0, 1, 1, 0, 0, 1, 1}, at::kLong),
                                                 at::tensor({0, 0, 0, 1, 0, 0, 0, 1}, at::kLong), 2,
                                                 2, 1.0, {4, 4}, nullptr, &d1, &d2);
  EXPECT_TRUE(at::equal(keep, mask({1, 1, 1, 1, 0, 0, 1, 1})));
  EXPECT_EQ(d1, 0);
  EXPECT_EQ(d2, 2);
  // Level 1 still drops at the source: 4 tokens of one group for node 0, C_node = 2.
  keep = smile_receiver_capacity_keep(at::tensor({0, 0, 0, 0}, at::kLong),
                                      at::tensor({0, 1, 0, 1}, at::kLong), 2, 2, 1.0, {}, nullptr,
                                      &d1, &d2);
  EXPECT_TRUE(at::equal(keep, mask({1, 1, 0, 0})));
  EXPECT_EQ(d1, 2);
  EXPECT_EQ(d2, 0);
}

// Per-level capacity, hand-computed (smile_router.h): position priority at both levels.
TEST(SmileCapacity, HandComputedTwoLevels) {
  int64_t d1 = -1;
  int64_t d2 = -1;
  // N = 2, M = 2, cf = 1, T = 6: C_node = 3 -> token 3 dropped at level 1; node 0 keeps 3 tokens,
  // C_loc = ceil(3 / 2) = 2; node 1 keeps 2, C_loc = 1 per expert: nothing dropped at level 2.
  at::Tensor keep =
      smile_capacity_keep(at::tensor({0, 0, 0, 0, 1, 1}, at::kLong),
                          at::tensor({0, 0, 1, 1, 0, 1}, at::kLong), 2, 2, 1.0, {}, &d1, &d2);
  EXPECT_TRUE(at::equal(keep, mask({1, 1, 1, 0, 1, 1})));
  EXPECT_EQ(d1, 1);
  EXPECT_EQ(d2, 0);
  // T = 4: C_node = 2 -> token 2 dropped at level 1; node 0: C_loc = ceil(2 / 2) = 1 -> token 1
  // dropped at level 2 (same local expert as token 0).
  keep = smile_capacity_keep(at::tensor({0, 0, 0, 1}, at::kLong),
                             at::tensor({0, 0, 0, 1}, at::kLong), 2, 2, 1.0, {}, &d1, &d2);
  EXPECT_TRUE(at::equal(keep, mask({1, 0, 0, 1})));
  EXPECT_EQ(d1, 1);
  EXPECT_EQ(d2, 1);
  // Two routing groups are independent: the same 4 tokens twice give the same mask twice.
  keep = smile_capacity_keep(at::tensor({0, 0, 0, 1, 0, 0, 0, 1}, at::kLong),
                             at::tensor({0, 0, 0, 1, 0, 0, 0, 1}, at::kLong), 2, 2, 1.0, {4, 4});
  EXPECT_TRUE(at::equal(keep, mask({1, 0, 0, 1, 1, 0, 0, 1})));
}

// §4.5 item 5: dispatch then combine with identity experts returns the input (times the gate)
// when nothing drops; dropped tokens (SMILE capacity) give 0.
TEST(SmileLayer, IdentityRoundTripAndDrops) {
  for (double cf : {0.0, 1.0}) {
    MoEBuildOptions o = testing::build_options(testing::LayerSpec{});
    o.router = smile_options(8, 2, 16);
    o.router.smile.capacity_factor = cf;
    o.layer.num_experts = 8;
    o.layer.num_nodes = 2;
    o.layer.capacity.top_k = 1;
    AuxLossCollector aux;
    MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
    at::Tensor x = make_tokens(24, 16, 5);
    RoutingContext ctx;
    RoutingResult r = layer->router().route(x, ctx);
    DispatchPlan plan = make_dispatch_plan(r, 8, o.layer.capacity, {}, ctx);
    at::Tensor combined = combine_rows(x.index_select(0, plan.token_index), plan, at::kFloat);
    EXPECT_LT(relative_error(combined, x * r.probs), 1e-6);
    const int64_t kept = r.expert_ids.ge(0).sum().item<int64_t>();
    if (cf == 0.0) EXPECT_EQ(kept, 24);
    if (cf > 0.0) EXPECT_LT(kept, 24);  // the seeded tokens overflow some node or expert
    // The layer registers both level losses with the SMILE coefficient.
    MoEOutput out = layer->forward(x, {0, {}});
    int found = 0;
    for (const auto& e : aux.entries()) found += e.name.rfind("smile_", 0) == 0;
    EXPECT_EQ(found, 2);
    EXPECT_EQ(out.stats.dispatched_rows, kept);
  }
}

// §5.6 item 1: GrAP gating rows are orthogonal, logits are group means, a constant token routes
// uniformly.
TEST(LocMoE, GroupedAveragePoolingGating) {
  at::Tensor w = grap_gating_matrix(4, 16);  // [E, d]
  at::Tensor gram = at::mm(w, w.t());        // [E, E]
  EXPECT_TRUE(at::allclose(gram, at::diag(at::diag(gram))));
  EXPECT_GT(at::diag(gram).min().item<double>(), 0.0);
  at::Tensor x = make_tokens(6, 16, 6);
  at::Tensor z = grouped_average_pooling_logits(x, 4);
  EXPECT_LT(relative_error(z, at::linear(x, w)), 1e-6);
  EXPECT_NEAR(z[2][1].item<double>(), x[2].narrow(0, 4, 4).mean().item<double>(), 1e-6);
  RouterOptions o = smile_options(4, 1, 16);
  o.kind = "locmoe";
  o.top_k = 2;
  o.locmoe.grouped_average_pooling = true;
  LocMoERouter router(o);
  EXPECT_TRUE(router.parameters().empty());
  RoutingResult r = router.route(at::full({3, 16}, 0.7), {});
  EXPECT_LT(relative_error(r.scores, at::full({3, 4}, 0.25)), 1e-6);
}

// §5.6 item 2 and §12: p_delta is 1 at 0, decreasing in delta and d, 0.4280 at (d=64, 0.1), and
// matches Monte Carlo sampling of uniform unit vectors.
TEST(LocMoE, PDeltaExactAndMonteCarlo) {
  EXPECT_NEAR(locmoe_p_delta(0.0, 64), 1.0, 1e-9);
  EXPECT_NEAR(locmoe_p_delta(0.1, 64), 0.4280, 5e-4);
  EXPECT_NEAR(locmoe_p_delta_erfc(0.1, 64), 0.4225, 5e-4);
  double prev = 1.0 + 1e-12;
  for (double delta = 0.0; delta <= 0.5; delta += 0.05) {
    const double p = locmoe_p_delta(delta, 64);
    EXPECT_LT(p, prev);
    prev = p;
  }
  for (int64_t d : {8, 16, 32, 64, 128}) {
    EXPECT_GT(locmoe_p_delta(0.1, d), locmoe_p_delta(0.1, 2 * d));
  }
  // Monte Carlo: 2e5 uniform unit vectors of R^64 against w = e_0.
  at::Generator gen = at::detail::createCPUGenerator(7);
  at::Tensor u = at::normal(0.0, 1.0, {200000, 64}, gen, at::TensorOptions().dtype(at::kDouble));
  at::Tensor cos = u.select(1, 0).abs() / u.norm(2, 1);
  const double mc = cos.ge(0.1).to(at::kDouble).mean().item<double>();
  // Standard error sqrt(p (1 - p) / n) ~ 0.0011; 5 sigma.
  EXPECT_NEAR(mc, locmoe_p_delta(0.1, 64), 0.0056);
}

// §5.6 item 3: ec_min >= 1/E, non-decreasing in delta and in d.
TEST(LocMoE, MinCapacityBoundMonotone) {
  for (int64_t e : {4, 8, 64}) {
    double prev_delta = 0.0;
    for (double delta = 0.01; delta < 0.3; delta += 0.02) {
      const double b = locmoe_min_capacity_bound(e, 128, delta);
      EXPECT_GE(b, 1.0 / static_cast<double>(e));
      EXPECT_GE(b, prev_delta);
      prev_delta = b;
    }
    double prev_d = 0.0;
    for (int64_t d : {16, 64, 256, 1024}) {
      const double b = locmoe_min_capacity_bound(e, d, 0.03);
      EXPECT_GE(b, prev_d);
      prev_d = b;
    }
  }
  // Hand value: E = 8, d = 128, delta = 0.03: 1 / (8 erfc(sqrt(0.1152 / 1.9991))).
  EXPECT_NEAR(locmoe_min_capacity_bound(8, 128, 0.03),
              1.0 / (8.0 * std::erfc(std::sqrt(0.0009 * 128 / 1.9991))), 1e-12);
}

// §5.6 item 4: the locality loss is 0 iff the group's mean routing equals p_local; hand value.
TEST(LocMoE, LocalityLossZeroIffLocal) {
  // E = 4, N = 2: node 1 holds experts 2, 3.
  at::Tensor local = at::tensor({0.0, 0.0, 0.5, 0.5}, at::kDouble).repeat({3, 1});  // [3, 4]
  EXPECT_NEAR(locality_loss(local.log(), 2, {}, {1}).item<double>(), 0.0, 1e-12);
  // Mean routing uniform: KL = sum_{i in node} 0.5 log(0.5 / 0.25) = log 2.
  at::Tensor uniform = at::full({3, 4}, 0.25, at::kDouble);
  EXPECT_NEAR(locality_loss(uniform.log(), 2, {}, {1}).item<double>(), std::log(2.0), 1e-12);
  // Rows that differ but average to p_local: still 0 (the loss reads the mean).
  at::Tensor mixed = at::tensor({0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0}, at::kDouble).view({2, 4});
  EXPECT_NEAR(locality_loss(mixed.log(), 2, {}, {1}).item<double>(), 0.0, 1e-12);
  // Groups on different nodes: group 0 (node 0) is local, group 1 (node 1) is not.
  at::Tensor two = at::cat({at::tensor({0.5, 0.5, 0.0, 0.0}, at::kDouble).repeat({2, 1}),
                            at::tensor({0.5, 0.5, 0.0, 0.0}, at::kDouble).repeat({2, 1})});
  const double v = locality_loss(two.clamp_min(1e-12).log(), 2, {2, 2}, {0, 1}).item<double>();
  EXPECT_GT(v, 1.0);  // group 1 pays 0.5 * 2 * log(0.5 / 1e-12) / 2 (mean over groups)
  EXPECT_NEAR(locality_loss(two.log(), 2, {2, 2}, {0, 0}).item<double>(), 0.0, 1e-12);
  // Random scores: strictly positive.
  at::Tensor p = at::softmax(make_tokens(10, 4, 8).to(at::kDouble), -1);
  EXPECT_GT(locality_loss(p.log(), 2, {}, {0}).item<double>(), 0.0);
}

// The LocMoE router: top-k on the learned gate, the layer's Switch balance ids, the locality loss
// with its coefficient and the reported capacity bound; the layer feeds the rank's node.
TEST(LocMoE, RouterAndLayerWiring) {
  MoEBuildOptions o = testing::build_options(testing::LayerSpec{});
  o.router.kind = "locmoe";
  o.router.num_nodes = 2;
  o.router.locmoe.locality_coeff = 0.5;
  o.layer.num_nodes = 2;
  o.layer.node_index = 1;
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  at::Tensor x = make_tokens(12, 16, 9);
  MoEOutput out = layer->forward(x, {0, {}});
  const RoutingResult& r = layer->last_routing();
  EXPECT_TRUE(at::equal(r.balance_ids, r.expert_ids));
  double locality = -1;
  for (const auto& e : aux.entries()) {
    if (e.name == "locmoe_locality") {
      locality = e.value.item<double>();
      EXPECT_DOUBLE_EQ(e.coeff, 0.5);
    }
  }
  // Node 1 (experts 2, 3 of E = 4) was used for the single group.
  EXPECT_NEAR(locality, locality_loss(r.logits.log_softmax(-1), 2, {}, {1}).item<double>(), 1e-6);
  ASSERT_EQ(out.stats.router_metrics.size(), 2u);
  EXPECT_EQ(out.stats.router_metrics[0].first, "locmoe_ec_min");
  EXPECT_NEAR(out.stats.router_metrics[0].second, locmoe_min_capacity_bound(4, 16, 0.03), 1e-12);
  EXPECT_EQ(out.stats.router_metrics[1].first, "locmoe_cf_min");
  EXPECT_NEAR(out.stats.router_metrics[1].second, 4 * locmoe_min_capacity_bound(4, 16, 0.03),
              1e-12);
  // Cross-node rows: kept rows whose expert is 0 or 1 (node 0) while the rank is on node 1.
  const int64_t cross = (r.expert_ids.lt(2)).sum().item<int64_t>();
  EXPECT_EQ(out.stats.cross_node_rows, cross);
  EXPECT_EQ(out.stats.dispatched_rows, 24);
}

// The locality loss as the node's routing probability goes to 0 (issue 17 item 7): the router
// puts every token's local experts 400 logits below the others, so that their probability
// underflows to 0 in float32. The loss must keep its exact value (400 here: KL(p_local || pbar)
// with log pbar_i = -400 - log 2) and a finite, non-zero gradient that pulls the tokens towards
// the node (on the old code, which clamped pbar at 1e-30, the loss read 68.4 and the gradient
// was 0).
TEST(LocMoE, LocalityLossExactWithFiniteGradientAsLocalProbabilityVanishes) {
  RouterOptions o;
  o.kind = "locmoe";
  o.hidden_size = 4;
  o.num_experts = 4;
  o.num_nodes = 2;
  o.top_k = 1;
  o.normalize_top_k = false;
  o.locmoe.locality_coeff = 1.0;
  LocMoERouter router(o);
  {
    at::NoGradGuard no_grad;
    // Experts 0, 1 (node 0): logit +200; experts 2, 3 (node 1): -200, for the all-ones token.
    router.weight().copy_(at::tensor({50.0, -50.0}, at::kFloat).repeat_interleave(2).view({4, 1}) *
                          at::ones({4, 4}, at::kFloat));
  }
  at::Tensor x = at::ones({6, 4}, at::kFloat);  // [T, H]
  RoutingContext ctx;
  ctx.group_nodes = {1};
  RoutingResult r = router.route(x, ctx);
  EXPECT_EQ(r.scores.select(1, 2).max().item<float>(), 0.0f);  // underflowed in float32
  const double loss = loss_named(r, "locmoe_locality");
  EXPECT_NEAR(loss, 400.0, 1e-3);
  at::Tensor value;
  for (const RouterLoss& l : r.losses) {
    if (l.name == "locmoe_locality") value = l.value;
  }
  value.backward();
  at::Tensor g = router.weight().grad();  // [E, H]
  ASSERT_TRUE(g.defined());
  EXPECT_TRUE(g.isfinite().all().item<bool>());
  // d loss / d z_t = (1/T) (p_t - w_t) summed: +0.5/T on each node-0 expert, -0.5/T on each
  // local expert, per token; the weight gradient sums it over the T all-ones tokens: +-0.5.
  at::Tensor expected = at::tensor({0.5, 0.5, -0.5, -0.5}, at::kFloat).view({4, 1}).expand({4, 4});
  EXPECT_TRUE(at::allclose(g, expected, 1e-5, 1e-5)) << g;
}

// The minimum-capacity bound applied to the capacity (issue 17 item 7): FLOOR raises a lower
// capacity factor to cf_min, SET replaces it, REPORT leaves it; dropless layers stay dropless.
TEST(LocMoE, CapacityBoundAppliedToTheLayer) {
  // d = 16, delta = 0.3: cf_min = 1 / erfc(sqrt(0.09 * 16 / 1.91)) ~ 4.55 (share of assignments).
  const double cf_min = 1.0 / std::erfc(std::sqrt(0.09 * 16 / (2 - 0.09)));
  EXPECT_NEAR(locmoe_capacity_factor_bound(4, 16, 0.3, true), cf_min, 1e-12);
  EXPECT_NEAR(locmoe_capacity_factor_bound(4, 16, 0.3, false), cf_min / 4, 1e-12);
  auto capacity_with = [&](LocMoECapacityBound bound, LocMoEBoundUnits units, double cf) {
    testing::LayerSpec spec;
    spec.top_k = 1;
    spec.capacity_factor = cf;
    MoEBuildOptions o = testing::build_options(spec);
    o.router.kind = "locmoe";
    o.router.num_nodes = 2;
    o.router.locmoe.capacity_bound_delta = 0.3;
    o.router.locmoe.capacity_bound = bound;
    o.router.locmoe.capacity_bound_units = units;
    o.layer.num_nodes = 2;
    MoELayer layer = build_moe_layer(o, MoEParallel{}, nullptr);
    layer->forward(make_tokens(12, 16, 9), {0, {}});
    const std::vector<int64_t>& caps = layer->last_plan().capacities;
    return caps.empty() ? int64_t{-1} : caps[0];
  };
  const auto share = LocMoEBoundUnits::kShareOfAssignments;
  // T = 12, k = 1, E = 4: cf 1.0 -> 3 tokens per expert; cf_min -> ceil(4.55 * 3) = 14.
  const auto floor_cap = static_cast<int64_t>(std::ceil(cf_min * 3 - 1e-9));
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kReport, share, 1.0), 3);
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kFloor, share, 1.0), floor_cap);
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kFloor, share, 8.0), 24);  // above the floor
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kSet, share, 8.0), floor_cap);
  // The other units: cf_min / E = 1.14 -> ceil(1.14 * 3) = 4.
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kSet, LocMoEBoundUnits::kCapacityFactor, 8.0),
            static_cast<int64_t>(std::ceil(cf_min / 4 * 3 - 1e-9)));
  EXPECT_EQ(capacity_with(LocMoECapacityBound::kFloor, share, 0.0), -1);  // dropless
}

TEST(LocalityRouters, RegisteredBuiltins) {
  RouterRegistry registry = RouterRegistry::with_builtins();
  EXPECT_TRUE(registry.contains("smile"));
  EXPECT_TRUE(registry.contains("locmoe"));
}

}  // namespace
}  // namespace switchyard::models
