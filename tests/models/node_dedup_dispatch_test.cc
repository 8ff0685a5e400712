// Node-deduplicated dispatch (models/moe/node_dedup_dispatcher.h, docs/dedup.md), mpi, on
// crafted routings (every rank's expert ids and weights written down, no router):
//   * gold: NodeDedupDispatcher == AllToAllDispatcher over the hierarchical all-to-all ==
//     LocalDispatcher in one process on the concatenated tokens, for the combined output and the
//     gradients of the tokens, the combine weights and the experts; np 4 (2 nodes x 2) and np 8
//     (2 x 4 and 4 x 2), with tokens whose experts share a node or a rank, a zero weight, a
//     token holding one expert twice, a rank with zero tokens and a rank whose experts get none;
//   * accounting: the messages and bytes of each phase on np 4 equal the hand-computed values
//     written below, and the inter-node rows the handle reports;
//   * the gold comparison catches a broken fan-out and a broken node reduce (test-only faults).
#include <mpi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/all_to_all_dispatcher.h"
#include "models/moe/batched_experts.h"
#include "models/moe/local_dispatcher.h"
#include "models/moe/node_dedup_dispatcher.h"
#include "tests/models/moe_test_util.h"
#include "tests/testing/mpi_world.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

constexpr double kTolerance = 1e-6;
constexpr int64_t kHidden = 16;

// Expert ids [total, K] and weights [total, K] of every rank's tokens (rank-ordered), and the
// tokens of each rank.
struct Routing {
  std::vector<int64_t> rows;  // [W] tokens per rank
  at::Tensor ids;             // [sum rows, K] int64
  at::Tensor probs;           // [sum rows, K] float32
  int64_t experts = 0;
};

// np 4 = 2 nodes x 2 ranks, E = 8 (rank p holds experts 2p, 2p + 1; node 0 = experts 0-3).
// Rank 1's experts (2, 3) get no token; rank 3 has no token; rank 0 token 2 weighs expert 5 by 0.
Routing four_rank_routing() {
  Routing r;
  r.rows = {4, 4, 4, 0};
  r.experts = 8;
  r.ids = at::tensor({0, 1, 4, 6, 1, 5, 4, 5,   // rank 0 (node 0)
                      6, 7, 0, 4, 0, 6, 4, 7,   // rank 1 (node 0)
                      0, 1, 1, 0, 4, 6, 0, 7},  // rank 2 (node 1)
                     at::kLong)
              .view({12, 2});
  r.probs = at::linspace(0.2, 0.9, 24, at::kFloat).view({12, 2});
  r.probs.index_put_({2, 1}, 0.0);  // rank 0, token 2, expert 5: kept with weight 0
  return r;
}

// Any N x G with E = 2P, K = 3: a formula with sharing on one rank and one node, rank 1 without
// tokens, EP rank 2's experts without tokens, a zero weight and a token holding an expert twice.
Routing formula_routing(int size) {
  Routing r;
  r.experts = 2 * size;
  const int64_t e = r.experts;
  const int64_t t_per_rank = 6;
  std::vector<int64_t> ids;
  for (int rank = 0; rank < size; ++rank) {
    const int64_t tokens = rank == 1 ? 0 : t_per_rank;
    r.rows.push_back(tokens);
    for (int64_t t = 0; t < tokens; ++t) {
      const int64_t base = (7 * rank + 3 * t) % e;
      int64_t picks[3] = {base, (base + 1) % e, (base + 2 + 2 * (t % 3)) % e};
      if (t == 5) picks[2] = picks[0];  // the same expert twice
      for (int64_t& p : picks) {
        if (p / 2 == 2) p = (p + 4) % e;  // EP rank 2's experts get nothing
      }
      ids.insert(ids.end(), picks, picks + 3);
    }
  }
  const auto n = static_cast<int64_t>(ids.size() / 3);
  r.ids = at::tensor(ids, at::kLong).view({n, 3});
  r.probs = at::rand({n, 3}, at::detail::createCPUGenerator(5), at::kFloat) + 0.1;
  if (n > 2) r.probs.index_put_({2, 0}, 0.0);
  return r;
}

struct Env {
  std::shared_ptr<comm::Communicator> world;
  comm::ProcessGroups groups;
  comm::NodePhaseAllToAlls phases;
  std::shared_ptr<comm::AllToAll> hierarchical;
};

Env make_env(int ranks_per_node) {
  Env env;
  env.world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = env.world->size();
  env.groups = comm::build_process_groups(
      env.world, comm::make_emulated_topology(env.world->rank(), size, ranks_per_node), size);
  env.phases = comm::make_node_phase_all_to_alls(env.groups);
  env.hierarchical = comm::make_all_to_all(comm::AllToAllAlgorithm::kHierarchical, env.groups);
  return env;
}

struct Result {
  at::Tensor output;                     // [T, H]
  at::Tensor token_grad;                 // [T, H]
  at::Tensor weight_grad;                // [T, K]
  std::vector<at::Tensor> expert_grads;  // w1, w2 (and any further parameter), [L, ...]
  DispatchHandle handle;
  std::vector<int64_t> tokens_per_expert;
};

// One dispatch -> experts -> combine -> backward of (output * g).sum() on `rows` tokens from
// row `offset` of the routing.
Result run(TokenDispatcher& dispatcher, const Routing& r, int64_t offset, int64_t rows) {
  const int64_t total = r.ids.size(0);
  ExpertOptions eo;
  eo.hidden_size = kHidden;
  eo.ffn_hidden_size = 8;
  eo.num_local_experts = dispatcher.num_local_experts();
  eo.first_expert = dispatcher.first_local_expert();
  eo.init_std = 0.2;
  eo.init_seed = 99;
  BatchedExperts experts(eo);
  at::Tensor x = make_tokens(total, kHidden, 17).narrow(0, offset, rows).clone().requires_grad_();
  at::Tensor g = make_tokens(total, kHidden, 18).narrow(0, offset, rows);
  RoutingResult routing;
  routing.expert_ids = r.ids.narrow(0, offset, rows);
  routing.probs = r.probs.narrow(0, offset, rows).clone().requires_grad_();
  const DispatchPlan plan = make_dispatch_plan(routing, r.experts, {}, {}, {});
  DispatchedTokens d = dispatcher.dispatch(x, plan);
  at::Tensor y = experts.forward(d.tokens, d.tokens_per_expert);
  Result out;
  out.output = dispatcher.combine(y, d.handle);
  (out.output * g).sum().backward();
  out.token_grad = x.grad();
  out.weight_grad = routing.probs.grad();
  for (const at::Tensor& p : experts.parameters()) out.expert_grads.push_back(p.grad());
  out.handle = d.handle;
  out.tokens_per_expert = d.tokens_per_expert;
  return out;
}

// Max over the world of the relative errors of a distributed result against an expected one.
double max_error(comm::Communicator& world, const Result& got, const Result& expected) {
  double err = 0.0;
  if (got.output.size(0) > 0) {
    err = std::max(err, relative_error(got.output, expected.output));
    err = std::max(err, relative_error(got.token_grad, expected.token_grad));
    err = std::max(err, relative_error(got.weight_grad, expected.weight_grad));
  }
  for (size_t i = 0; i < got.expert_grads.size(); ++i) {
    if (expected.expert_grads[i].norm().item<double>() > 0) {
      err = std::max(err, relative_error(got.expert_grads[i], expected.expert_grads[i]));
    } else {
      err = std::max(err, got.expert_grads[i].abs().max().item<double>());
    }
  }
  at::Tensor t = at::full({1}, err, at::kDouble);
  world.all_reduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<double>();
}

struct Runs {
  Result dedup;
  Result hierarchical;
  Result reference;  // this rank's slice of the single-process result
};

Runs run_all(Env& env, const Routing& r, NodeDedupFault fault = NodeDedupFault::kNone) {
  const int rank = env.world->rank();
  int64_t offset = 0;
  for (int p = 0; p < rank; ++p) offset += r.rows[static_cast<size_t>(p)];
  const int64_t rows = r.rows[static_cast<size_t>(rank)];
  Runs runs;
  NodeDedupDispatcher dedup(env.groups.host_expert, env.phases.inter_node, env.phases.intra_node,
                            r.experts, fault);
  runs.dedup = run(dedup, r, offset, rows);
  AllToAllDispatcher flat(env.groups.host_expert, env.hierarchical, r.experts);
  runs.hierarchical = run(flat, r, offset, rows);
  LocalDispatcher local(r.experts);
  Result ref = run(local, r, 0, r.ids.size(0));
  const int64_t l = dedup.num_local_experts();
  runs.reference.output = ref.output.narrow(0, offset, rows);
  runs.reference.token_grad = ref.token_grad.narrow(0, offset, rows);
  runs.reference.weight_grad = ref.weight_grad.narrow(0, offset, rows);
  for (const at::Tensor& gr : ref.expert_grads) {
    runs.reference.expert_grads.push_back(gr.narrow(0, dedup.first_local_expert(), l));
  }
  return runs;
}

void expect_gold(Env& env, const Routing& r, const std::string& name) {
  SCOPED_TRACE(name);
  ASSERT_TRUE(env.phases.inter_node != nullptr) << "node dedup must apply";
  Runs runs = run_all(env, r);
  EXPECT_LT(max_error(*env.world, runs.dedup, runs.reference), kTolerance);
  EXPECT_LT(max_error(*env.world, runs.hierarchical, runs.reference), kTolerance);
  EXPECT_LT(max_error(*env.world, runs.dedup, runs.hierarchical), kTolerance);
}

TEST(NodeDedupDispatch, CraftedRoutingMatchesHierarchicalAndSingleProcess) {
  const int size = switchyard::testing::world_size();
  if (size == 4) {
    Env env = make_env(2);
    expect_gold(env, four_rank_routing(), "np4 2x2 table");
    expect_gold(env, formula_routing(size), "np4 2x2 formula");
  } else if (size == 8) {
    Env two_by_four = make_env(4);
    expect_gold(two_by_four, formula_routing(size), "np8 2x4 formula");
    Env four_by_two = make_env(2);
    expect_gold(four_by_two, formula_routing(size), "np8 4x2 formula");
  } else {
    GTEST_SKIP() << "needs 4 or 8 ranks";
  }
}

// Hand-computed on four_rank_routing() (H = 16 float32; E_node = 4, L = 2):
//   phase A row = H + 2 E_node floats = 96 B; phase B row = H + 2 L floats = 80 B; a combine
//   row = H floats = 64 B. Node-0 ranks 0, 1 send their node-1 tokens (3 and 4 distinct: rank 0
//   tokens 1, 2, 3; rank 1 all four) to ranks 2, 3; rank 2 sends its node-0 tokens 0, 1, 3 to
//   rank 0; rank 3 has none. Relay 1 forwards its 2 rows to rank 0; relay 2 forwards the 3 rows
//   needing experts 6, 7 (rank 0 token 1, rank 2 tokens 2, 3) to rank 3; relay 3 forwards the 2
//   rows needing experts 4, 5 (rank 1 tokens 1, 3) to rank 2. Without dedup: 5, 6, 5, 0 kept
//   cross-node rows.
TEST(NodeDedupDispatch, MessagesAndBytesEqualHandComputedValues) {
  if (switchyard::testing::world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  Env env = make_env(2);
  const int rank = env.world->rank();
  const Routing r = four_rank_routing();
  int64_t offset = 0;
  for (int p = 0; p < rank; ++p) offset += r.rows[static_cast<size_t>(p)];
  const int64_t rows = r.rows[static_cast<size_t>(rank)];
  NodeDedupDispatcher dedup(env.groups.host_expert, env.phases.inter_node, env.phases.intra_node,
                            r.experts);
  at::Tensor x = make_tokens(12, kHidden, 17).narrow(0, offset, rows);
  RoutingResult routing;
  routing.expert_ids = r.ids.narrow(0, offset, rows);
  routing.probs = r.probs.narrow(0, offset, rows);
  const DispatchPlan plan = make_dispatch_plan(routing, r.experts, {}, {}, {});

  const int64_t inter_msgs[4] = {1, 1, 1, 0};
  const int64_t inter_bytes[4] = {3 * 96, 4 * 96, 3 * 96, 0};
  const int64_t intra_msgs[4] = {0, 1, 1, 1};
  const int64_t intra_bytes[4] = {0, 2 * 80, 3 * 80, 2 * 80};
  const int64_t remote_rows[4] = {3, 4, 3, 0};
  const std::vector<int64_t> per_expert[4] = {{6, 4}, {0, 0}, {5, 2}, {4, 3}};
  env.phases.inter_node->reset_traffic();
  env.phases.intra_node->reset_traffic();
  DispatchedTokens d = dedup.dispatch(x, plan);
  comm::TrafficCounters inter = env.phases.inter_node->traffic();
  comm::TrafficCounters intra = env.phases.intra_node->traffic();
  EXPECT_EQ(inter.inter_node_messages, inter_msgs[rank]);
  EXPECT_EQ(inter.inter_node_bytes, inter_bytes[rank]);
  EXPECT_EQ(inter.intra_node_messages, 0);
  EXPECT_EQ(intra.intra_node_messages, intra_msgs[rank]);
  EXPECT_EQ(intra.intra_node_bytes, intra_bytes[rank]);
  EXPECT_EQ(intra.inter_node_messages, 0);
  EXPECT_EQ(d.handle.inter_node_rows, remote_rows[rank]);
  EXPECT_EQ(d.handle.inter_node_bytes, remote_rows[rank] * 96);
  EXPECT_EQ(d.tokens_per_expert, per_expert[rank]);

  // Combine: the reverse exchanges carry one H-row per phase row.
  const int64_t back_inter_msgs[4] = {1, 0, 1, 1};
  const int64_t back_inter_bytes[4] = {3 * 64, 0, 3 * 64, 4 * 64};
  const int64_t back_intra_msgs[4] = {1, 0, 1, 1};
  const int64_t back_intra_bytes[4] = {2 * 64, 0, 2 * 64, 3 * 64};
  env.phases.inter_node->reset_traffic();
  env.phases.intra_node->reset_traffic();
  at::Tensor out = dedup.combine(d.tokens, d.handle);  // identity "experts"
  EXPECT_EQ(out.sizes(), x.sizes());
  inter = env.phases.inter_node->traffic();
  intra = env.phases.intra_node->traffic();
  EXPECT_EQ(inter.inter_node_messages, back_inter_msgs[rank]);
  EXPECT_EQ(inter.inter_node_bytes, back_inter_bytes[rank]);
  EXPECT_EQ(intra.intra_node_messages, back_intra_msgs[rank]);
  EXPECT_EQ(intra.intra_node_bytes, back_intra_bytes[rank]);

  // Without dedup (the hierarchical exchange): one row per kept cross-node assignment,
  // 5 + 6 + 5 rows of 64 B over the world.
  env.hierarchical->reset_traffic();
  AllToAllDispatcher hier(env.groups.host_expert, env.hierarchical, r.experts);
  hier.dispatch(x, plan);
  at::Tensor bytes = at::full({1}, env.hierarchical->traffic().inter_node_bytes, at::kLong);
  env.world->all_reduce(bytes)->wait();
  EXPECT_EQ(bytes.item<int64_t>(), 16 * 64);
}

// BF16 payloads: the rows and their float32 metadata take two exchanges per phase (twice the
// messages of float32), and the result matches the single-process one to BF16 precision.
TEST(NodeDedupDispatch, Bfloat16PayloadTravelsBesideFloat32Metadata) {
  if (switchyard::testing::world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  Env env = make_env(2);
  const int rank = env.world->rank();
  const Routing r = four_rank_routing();
  int64_t offset = 0;
  for (int p = 0; p < rank; ++p) offset += r.rows[static_cast<size_t>(p)];
  const int64_t rows = r.rows[static_cast<size_t>(rank)];
  // "Experts": row * (1 + local expert); the same on the reference's rows.
  auto experts = [](const at::Tensor& t, const std::vector<int64_t>& per_expert) {
    std::vector<at::Tensor> parts;
    int64_t at_row = 0;
    for (size_t e = 0; e < per_expert.size(); ++e) {
      parts.push_back(t.narrow(0, at_row, per_expert[e]) * static_cast<double>(1 + e % 2));
      at_row += per_expert[e];
    }
    return at::cat(parts, 0);
  };
  auto run_bf16 = [&](TokenDispatcher& d, int64_t first, int64_t count) {
    at::Tensor x = make_tokens(12, kHidden, 17)
                       .narrow(0, first, count)
                       .to(at::kBFloat16)
                       .clone()
                       .requires_grad_();
    RoutingResult routing;
    routing.expert_ids = r.ids.narrow(0, first, count);
    routing.probs = r.probs.narrow(0, first, count).clone().requires_grad_();
    const DispatchPlan plan = make_dispatch_plan(routing, r.experts, {}, {}, {});
    DispatchedTokens dt = d.dispatch(x, plan);
    at::Tensor out = d.combine(experts(dt.tokens, dt.tokens_per_expert), dt.handle);
    EXPECT_EQ(out.scalar_type(), at::kBFloat16);
    out.to(at::kFloat).sum().backward();
    return std::vector<at::Tensor>{out, x.grad(), routing.probs.grad()};
  };
  NodeDedupDispatcher dedup(env.groups.host_expert, env.phases.inter_node, env.phases.intra_node,
                            r.experts);
  env.phases.inter_node->reset_traffic();
  std::vector<at::Tensor> got = run_bf16(dedup, offset, rows);
  // Forward A and A', backward A' and A: 2 + 1 + 1 + 2 messages on ranks 0 and 2.
  if (rank == 0 || rank == 2) EXPECT_EQ(env.phases.inter_node->traffic().inter_node_messages, 6);
  LocalDispatcher local(r.experts);
  std::vector<at::Tensor> ref = run_bf16(local, 0, 12);
  if (rows > 0) {
    EXPECT_LT(relative_error(got[0], ref[0].narrow(0, offset, rows)), 2e-2);
    EXPECT_LT(relative_error(got[1], ref[1].narrow(0, offset, rows)), 2e-2);
    EXPECT_LT(relative_error(got[2], ref[2].narrow(0, offset, rows)), 2e-2);
  }
}

// The gold comparison fails when the fan-out or the node reduce is wrong.
TEST(NodeDedupDispatch, GoldTestCatchesABrokenFanOutAndNodeReduce) {
  const int size = switchyard::testing::world_size();
  if (size != 4 && size != 8) GTEST_SKIP() << "needs 4 or 8 ranks";
  Env env = make_env(size == 4 ? 2 : 4);
  const Routing r = size == 4 ? four_rank_routing() : formula_routing(size);
  for (NodeDedupFault fault :
       {NodeDedupFault::kFanOutWrongWeights, NodeDedupFault::kNodeReduceKeepsOne}) {
    Runs runs = run_all(env, r, fault);
    EXPECT_GT(max_error(*env.world, runs.dedup, runs.reference), 1e-2)
        << "fault " << static_cast<int>(fault) << " went unnoticed";
    EXPECT_LT(max_error(*env.world, runs.hierarchical, runs.reference), kTolerance);
  }
}

}  // namespace
}  // namespace switchyard::models
