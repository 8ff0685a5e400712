// The local index work of the node-deduplicated dispatch (models/moe/node_dedup_plan.h) on a
// hand-written plan: 2 nodes x 2 ranks, E = 8 (node 0 = experts 0-3, rank p = 2p, 2p + 1).
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/dispatch_plan.h"
#include "models/moe/node_dedup_plan.h"

namespace switchyard::models {
namespace {

const NodeDedupShape kShape{2, 2, 8};

// Tokens: t0 -> {0, 2} (node 0, ranks 0 and 1); t1 -> {5, 5} (one expert twice); t2 -> {1, 6}
// with expert 6 weighted 0; t3 -> nothing.
DispatchPlan crafted_plan() {
  RoutingResult r;
  r.expert_ids = at::tensor({0, 2, 5, 5, 1, 6, -1, -1}, at::kLong).view({4, 2});
  r.probs = at::tensor({0.6f, 0.4f, 0.3f, 0.2f, 0.7f, 0.0f, 0.0f, 0.0f}).view({4, 2});
  return make_dispatch_plan(r, 8, {}, {}, {});
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST(NodeDedupPlan, SourceRowsAreOnePerTokenAndNodeWithMergedWeights) {
  const NodeDedupSourcePlan p = make_node_dedup_source_plan(crafted_plan(), kShape);
  // Node 0: t0 (experts 0, 2), t2 (expert 1); node 1: t1 (expert 5 twice), t2 (expert 6).
  EXPECT_EQ(to_vector(p.token_index), (std::vector<int64_t>{0, 2, 1, 2}));
  EXPECT_EQ(p.rows_per_node, (std::vector<int64_t>{2, 2}));
  // Rows needing rank (n, g): (0,0): t0, t2; (0,1): t0; (1,0): t1; (1,1): t2.
  EXPECT_EQ(p.rows_per_rank, (std::vector<int64_t>{2, 1, 1, 1}));
  const at::Tensor expected = at::tensor({0.6f, 0.f,  0.4f, 0.f, 1.f, 0.f, 1.f, 0.f,  //
                                          0.f,  0.7f, 0.f,  0.f, 0.f, 1.f, 0.f, 0.f,  //
                                          0.f,  0.5f, 0.f,  0.f, 0.f, 1.f, 0.f, 0.f,  //
                                          0.f,  0.f,  0.0f, 0.f, 0.f, 0.f, 1.f, 0.f})
                                  .view({4, 8});
  EXPECT_TRUE(at::allclose(p.meta, expected)) << p.meta;
}

TEST(NodeDedupPlan, FanOutSendsEachRowToTheRanksOfItsExperts) {
  // The node-1 relay's received rows: t1 (local column 1 = expert 5), t2 (column 2 = expert 6,
  // weight 0: still assigned).
  const NodeDedupSourcePlan p = make_node_dedup_source_plan(crafted_plan(), kShape);
  const at::Tensor meta = p.meta.narrow(0, 2, 2);
  const NodeFanOut fan = make_node_fan_out(meta, kShape);
  EXPECT_EQ(fan.rows_per_rank, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(to_vector(fan.row_index), (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(
      at::allclose(fan.meta, at::tensor({0.f, 0.5f, 0.f, 1.f, 0.f, 0.f, 1.f, 0.f}).view({2, 4})))
      << fan.meta;
  // The test-only fault hands rank g the weights of rank g + 1.
  const NodeFanOut bad = make_node_fan_out(meta, kShape, NodeDedupFault::kFanOutWrongWeights);
  EXPECT_FALSE(at::allclose(bad.meta, fan.meta));

  // Expansion on rank (1, 0): one row, expert 5 (local 1), weight 0.5.
  const ExpertExpansion x = expand_to_local_experts(fan.meta.narrow(0, 0, 1), 2);
  EXPECT_EQ(x.tokens_per_expert, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(to_vector(x.row_index), (std::vector<int64_t>{0}));
  EXPECT_NEAR(x.weights[0].item<float>(), 0.5f, 1e-7);
}

TEST(NodeDedupPlan, EmptyPlanGivesEmptyRows) {
  RoutingResult r;
  r.expert_ids = at::zeros({0, 2}, at::kLong);
  r.probs = at::zeros({0, 2}, at::kFloat);
  const NodeDedupSourcePlan p =
      make_node_dedup_source_plan(make_dispatch_plan(r, 8, {}, {}, {}), kShape);
  EXPECT_EQ(p.token_index.numel(), 0);
  EXPECT_EQ(p.meta.sizes().vec(), (std::vector<int64_t>{0, 8}));
  EXPECT_EQ(p.rows_per_rank, (std::vector<int64_t>(4, 0)));
}

}  // namespace
}  // namespace switchyard::models
