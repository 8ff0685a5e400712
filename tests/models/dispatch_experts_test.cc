// Capacity formula, drop policies, the dispatch plan, the local dispatcher, and batched vs
// sequential experts.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/batched_experts.h"
#include "models/moe/capacity.h"
#include "models/moe/dispatch_plan.h"
#include "models/moe/local_dispatcher.h"
#include "models/moe/sequential_experts.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

at::Tensor bools(std::vector<int64_t> v) { return at::tensor(v, at::kLong).to(at::kBool); }

at::Tensor ids(std::vector<int64_t> v, int64_t k) { return at::tensor(v, at::kLong).view({-1, k}); }

TEST(Capacity, MegatronFormula) {
  EXPECT_EQ(expert_capacity(1.25, 64, 2, 8), 20);   // ceil(1.25 * 128 / 8)
  EXPECT_EQ(expert_capacity(1.0, 10, 1, 4), 3);     // ceil(2.5)
  EXPECT_EQ(expert_capacity(1.0, 10, 1, 4, 8), 8);  // min_capacity
  EXPECT_EQ(expert_capacity(1.0, 0, 2, 4), 0);
  EXPECT_EQ(expert_capacity(1.25, 4096, 2, 8), 1280);
}

CapacityOptions cap(double cf, int64_t k, DropPolicy p = DropPolicy::kPosition) {
  CapacityOptions c;
  c.capacity_factor = cf;
  c.top_k = k;
  c.drop_policy = p;
  return c;
}

TEST(CapacityKeepMask, PositionPriorityFirstChoicesBeforeSecond) {
  // T=4, k=2, E=2, cf=0.5 -> C = ceil(0.5 * 8 / 2) = 2.
  // First choices: t0->0, t1->0, t2->0, t3->1; second: t0->1, t1->1, t2->1, t3->0.
  at::Tensor e = ids({0, 1, 0, 1, 0, 1, 1, 0}, 2);
  at::Tensor p = at::full({4, 2}, 0.5);
  at::Tensor keep = capacity_keep_mask(e, p, 2, cap(0.5, 2), {}, {});
  // Expert 0: first choices t0, t1 fill it; t2 (first choice) dropped; t3's second dropped.
  // Expert 1: t3's first choice, then t0's second choice; t1, t2 second choices dropped.
  at::Tensor expected = bools({1, 1, 1, 0, 0, 0, 1, 0}).view({4, 2});
  EXPECT_TRUE(at::equal(keep, expected)) << keep;
}

TEST(CapacityKeepMask, ProbsPriorityKeepsTheHighest) {
  at::Tensor e = ids({0, 0, 0, 0}, 1);
  at::Tensor p = at::tensor({0.1f, 0.9f, 0.5f, 0.7f}).view({4, 1});
  // C = ceil(1 * 4 / 2) = 2: keep t1 and t3.
  at::Tensor keep = capacity_keep_mask(e, p, 2, cap(1.0, 1, DropPolicy::kProbs), {}, {});
  EXPECT_TRUE(at::equal(keep.view(-1), bools({0, 1, 0, 1})));
}

TEST(CapacityKeepMask, RandomPriorityIsSeededAndKeepsC) {
  at::Tensor e = at::zeros({64, 1}, at::kLong);
  at::Tensor p = at::ones({64, 1});
  RoutingContext a;
  a.seed = 1;
  RoutingContext b;
  b.seed = 2;
  CapacityOptions c = cap(0.25, 1, DropPolicy::kRandom);  // C = ceil(0.25 * 64 / 2) = 8
  at::Tensor ka = capacity_keep_mask(e, p, 2, c, {}, a);
  EXPECT_EQ(ka.sum().item<int64_t>(), 8);
  EXPECT_TRUE(at::equal(ka, capacity_keep_mask(e, p, 2, c, {}, a)));
  EXPECT_FALSE(at::equal(ka, capacity_keep_mask(e, p, 2, c, {}, b)));
  EXPECT_FALSE(at::equal(ka, capacity_keep_mask(e, p, 2, cap(0.25, 1), {}, a)));  // not position
}

TEST(CapacityKeepMask, CapacityPerGroup) {
  // Two groups of 4 tokens, all to expert 0, C = ceil(1 * 4 / 2) = 2 per group.
  at::Tensor e = at::zeros({8, 1}, at::kLong);
  at::Tensor keep = capacity_keep_mask(e, at::ones({8, 1}), 2, cap(1.0, 1), {4, 4}, {});
  EXPECT_TRUE(at::equal(keep.view(-1), bools({1, 1, 0, 0, 1, 1, 0, 0})));
}

TEST(DispatchPlan, GroupsByExpertAndCountsDrops) {
  RoutingResult r;
  r.expert_ids = ids({1, 0, 1, -1, 0, 1}, 2);  // t0: 1, 0; t1: 1, -; t2: 0, 1
  r.probs = at::tensor({0.6f, 0.4f, 1.0f, 0.0f, 0.7f, 0.3f}).view({3, 2});
  DispatchPlan plan = make_dispatch_plan(r, 2, CapacityOptions{}, {}, {});
  EXPECT_TRUE(at::equal(plan.token_index, at::tensor({0, 2, 0, 1, 2}, at::kLong)));
  EXPECT_EQ(plan.tokens_per_expert, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(plan.num_selected, 5);
  EXPECT_EQ(plan.num_dropped, 0);
  EXPECT_TRUE(at::allclose(plan.weights, at::tensor({0.4f, 0.7f, 0.6f, 1.0f, 0.3f})));
}

TEST(LocalDispatcher, RoundTripWithUnitWeightsIsIdentity) {
  RoutingResult r;
  r.expert_ids = at::tensor({2, 0, 1, 2, 0}, at::kLong).view({5, 1});
  r.probs = at::ones({5, 1});
  DispatchPlan plan = make_dispatch_plan(r, 3, CapacityOptions{}, {}, {});
  LocalDispatcher d(3);
  at::Tensor x = make_tokens(5, 4, 1).set_requires_grad(true);
  DispatchedTokens t = d.dispatch(x, plan);
  EXPECT_EQ(t.tokens_per_expert, (std::vector<int64_t>{2, 1, 2}));
  at::Tensor y = d.combine(t.tokens, t.handle);
  EXPECT_TRUE(at::equal(y, x));
  at::Tensor g = make_tokens(5, 4, 2);
  y.backward(g);
  EXPECT_TRUE(at::allclose(x.grad(), g));
}

TEST(LocalDispatcher, DroppedAssignmentsContributeZero) {
  RoutingResult r;
  r.expert_ids = at::zeros({4, 1}, at::kLong);
  r.probs = at::ones({4, 1});
  DispatchPlan plan = make_dispatch_plan(r, 2, cap(1.0, 1), {}, {});  // C = 2
  EXPECT_EQ(plan.num_dropped, 2);
  LocalDispatcher d(2);
  at::Tensor x = make_tokens(4, 3, 1);
  DispatchedTokens t = d.dispatch(x, plan);
  at::Tensor y = d.combine(t.tokens, t.handle);
  EXPECT_TRUE(at::equal(y.narrow(0, 0, 2), x.narrow(0, 0, 2)));
  EXPECT_TRUE(at::equal(y.narrow(0, 2, 2), at::zeros({2, 3})));
}

void compare_experts(ExpertKind kind) {
  ExpertOptions o;
  o.kind = kind;
  o.hidden_size = 6;
  o.ffn_hidden_size = 10;
  o.num_local_experts = 4;
  o.init_std = 0.3;
  BatchedExperts batched(o);
  SequentialExperts sequential(o);
  std::vector<int64_t> counts = {3, 0, 5, 2};  // expert 1 gets no rows
  at::Tensor x = make_tokens(10, 6, 3);
  at::Tensor g = make_tokens(10, 6, 4);
  at::Tensor xb = x.clone().set_requires_grad(true);
  at::Tensor xs = x.clone().set_requires_grad(true);
  at::Tensor yb = batched.forward(xb, counts);
  at::Tensor ys = sequential.forward(xs, counts);
  EXPECT_LT(relative_error(yb, ys), 1e-6);
  (yb * g).sum().backward();
  (ys * g).sum().backward();
  EXPECT_LT(relative_error(xb.grad(), xs.grad()), 1e-6);
  EXPECT_LT(relative_error(batched.w1().grad(), sequential.w1().grad()), 1e-6);
  EXPECT_LT(relative_error(batched.w2().grad(), sequential.w2().grad()), 1e-6);
  EXPECT_TRUE(at::equal(batched.w1().grad()[1], at::zeros_like(batched.w1()[1])));
}

TEST(Experts, BatchedEqualsSequentialGelu) { compare_experts(ExpertKind::kGeluMlp); }
TEST(Experts, BatchedEqualsSequentialSwiGlu) { compare_experts(ExpertKind::kSwiGlu); }

TEST(Experts, InitDependsOnlyOnTheGlobalExpert) {
  ExpertOptions all;
  all.hidden_size = 4;
  all.ffn_hidden_size = 5;
  all.num_local_experts = 4;
  ExpertOptions part = all;
  part.num_local_experts = 2;
  part.first_expert = 2;
  EXPECT_TRUE(
      at::equal(initial_expert_weights(all).w1.narrow(0, 2, 2), initial_expert_weights(part).w1));
}

TEST(Experts, ZeroRowsStillConnectedToTheWeights) {
  ExpertOptions o;
  o.hidden_size = 4;
  o.ffn_hidden_size = 5;
  o.num_local_experts = 2;
  BatchedExperts batched(o);
  at::Tensor y = batched.forward(at::zeros({0, 4}), {0, 0});
  EXPECT_EQ(y.size(0), 0);
  EXPECT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(at::equal(batched.w1().grad(), at::zeros_like(batched.w1())));
}

}  // namespace
}  // namespace switchyard::models
