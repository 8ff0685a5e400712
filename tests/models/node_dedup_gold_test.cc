// Gold equivalence of the node-deduplicated MoE layer (mpi): a layer built with the node-dedup
// dispatcher (MoEParallel::dedup_*) gives the same routing, outputs, input gradients and
// parameter gradients (after gradient synchronization) as the same layer over the hierarchical
// all-to-all without dedup, and as the single-process layer on the rank-ordered concatenation of
// the tokens (one routing group and node per rank), for every router (top-k with k = 2 and 4,
// GShard, expert choice, StableMoE, SMILE, LocMoE), dropless and capacity, Rectify-Router, a rank
// with zero tokens; np 4 (2 nodes x 2) and np 8 (2 x 4, 4 x 2, and EP 4 = 2 x 2 with expert data
// parallelism). The layer's inter-node accounting is checked against a recount from its plan.
#include <mpi.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/moe_builder.h"
#include "tests/models/moe_mpi_test_util.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;
using testing::sync_gradients;
using testing::world_size;

constexpr double kTolerance = 1e-6;
constexpr int64_t kSeq = 4;     // tokens per sequence (StableMoE's token ids are [B, S])
constexpr int64_t kVocab = 23;  // StableMoE's distilled router

struct Shape {
  int ranks_per_node = 2;
  int ep = 4;
  std::string name;
};

struct Case {
  std::string name;
  MoEBuildOptions options;
  int64_t tokens_per_rank = 12;
  int empty_rank = -1;
};

struct LayerRun {
  MoEOutput out;
  at::Tensor input_grad;
  MoELayer layer = nullptr;
};

// Recount of the dedup rows: per token, the distinct remote nodes of its kept experts.
int64_t remote_token_nodes(const DispatchPlan& plan, int64_t nodes, int64_t node) {
  const int64_t per_node = plan.num_experts / nodes;
  at::Tensor tokens = plan.token_index.to(at::kCPU).contiguous();
  std::set<std::pair<int64_t, int64_t>> pairs;
  int64_t row = 0;
  for (int64_t e = 0; e < plan.num_experts; ++e) {
    for (int64_t i = 0; i < plan.tokens_per_expert[static_cast<size_t>(e)]; ++i, ++row) {
      if (e / per_node != node) pairs.insert({tokens[row].item<int64_t>(), e / per_node});
    }
  }
  return static_cast<int64_t>(pairs.size());
}

void run_case(const Case& c, const Shape& setup) {
  SCOPED_TRACE(setup.name + " " + c.name);
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = world->size();
  const int rank = world->rank();
  const comm::ProcessGroups groups = comm::build_process_groups(
      world, comm::make_emulated_topology(rank, size, setup.ranks_per_node), setup.ep);
  ASSERT_TRUE(comm::node_dedup_applies(groups));
  const comm::NodePhaseAllToAlls phases = comm::make_node_phase_all_to_alls(groups);
  auto hierarchical = comm::make_all_to_all(comm::AllToAllAlgorithm::kHierarchical, groups);
  const int nodes = groups.expert_num_nodes;
  const int per_node = groups.expert_ranks_per_node;

  std::vector<int64_t> sizes(static_cast<size_t>(size), c.tokens_per_rank);
  if (c.empty_rank >= 0) sizes[static_cast<size_t>(c.empty_rank)] = 0;
  std::vector<int64_t> rank_nodes;  // node of each world rank within its EP group
  int64_t total = 0, offset = 0, nonempty = 0;
  for (int r = 0; r < size; ++r) {
    if (r == rank) offset = total;
    total += sizes[static_cast<size_t>(r)];
    nonempty += sizes[static_cast<size_t>(r)] > 0;
    rank_nodes.push_back((r % setup.ep) / per_node);
  }
  const int64_t mine = sizes[static_cast<size_t>(rank)];
  MoEBuildOptions options = c.options;
  options.router.num_nodes = nodes;
  options.layer.num_nodes = nodes;
  const int64_t hidden = options.layer.hidden_size;
  const at::Tensor x = make_tokens(total, hidden, 17);
  const at::Tensor g = make_tokens(total, hidden, 18);
  const at::Tensor ids = at::arange(total, at::kLong).mul(7).remainder(kVocab);

  auto distributed = [&](bool dedup) {
    LayerRun run;
    AuxLossCollector aux;
    MoEParallel parallel{groups.expert, hierarchical, world};
    if (dedup) {
      parallel.dedup_inter_node = phases.inter_node;
      parallel.dedup_intra_node = phases.intra_node;
    }
    run.layer = build_moe_layer(options, parallel, &aux);
    at::Tensor input = x.narrow(0, offset, mine).clone().requires_grad_();
    MoEForwardArgs args;
    args.step = 5;
    args.token_ids = ids.narrow(0, offset, mine).view({-1, kSeq});
    run.out = run.layer->forward(input, args);
    ((run.out.output * g.narrow(0, offset, mine)).sum() + aux.weighted_sum()).backward();
    sync_gradients(run.layer, groups);
    run.input_grad = input.grad();
    return run;
  };
  phases.inter_node->reset_traffic();
  const LayerRun dedup = distributed(true);
  ASSERT_GT(phases.inter_node->traffic().exchanges, 0) << "the dedup phases did not run";
  const LayerRun plain = distributed(false);

  AuxLossCollector ref_aux;
  MoEBuildOptions ref_options = options;
  ref_options.layer.capacity.rectify.expert_parallel_size = setup.ep;  // the EP ranks' layout
  MoELayer ref = build_moe_layer(ref_options, MoEParallel{}, &ref_aux);
  const at::Tensor x_ref = x.clone().requires_grad_();
  MoEForwardArgs ref_args;
  ref_args.step = 5;
  ref_args.group_sizes = sizes;
  ref_args.group_nodes = rank_nodes;
  ref_args.token_ids = ids.view({-1, kSeq});
  MoEOutput ref_out = ref->forward(x_ref, ref_args);
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(nonempty)).backward();

  // Routing: the same decisions on the three paths.
  for (const LayerRun* run : {&dedup, &plain}) {
    EXPECT_TRUE(at::equal(run->layer->last_routing().expert_ids,
                          ref->last_routing().expert_ids.narrow(0, offset, mine)));
    EXPECT_TRUE(
        at::equal(run->layer->last_plan().keep, ref->last_plan().keep.narrow(0, offset, mine)));
  }
  if (mine > 0) {
    const at::Tensor ref_slice = ref_out.output.narrow(0, offset, mine);
    EXPECT_LT(relative_error(dedup.out.output, ref_slice), kTolerance) << "dedup vs reference";
    EXPECT_LT(relative_error(plain.out.output, ref_slice), kTolerance) << "plain vs reference";
    EXPECT_LT(relative_error(dedup.out.output, plain.out.output), kTolerance) << "dedup vs plain";
    const at::Tensor ref_grad = x_ref.grad().narrow(0, offset, mine);
    EXPECT_LT(relative_error(dedup.input_grad, ref_grad), kTolerance) << "input grad";
    EXPECT_LT(relative_error(dedup.input_grad, plain.input_grad), kTolerance) << "input grad";
  }
  auto ref_params = ref->named_parameters();
  auto plain_params = plain.layer->named_parameters();
  const int64_t local = options.layer.num_experts / setup.ep;
  const int64_t first = groups.expert->rank() * local;
  for (auto& item : dedup.layer->named_parameters()) {
    at::Tensor got = item.value().grad();
    at::Tensor expected = ref_params[item.key()].grad();
    ASSERT_EQ(got.defined(), expected.defined()) << item.key();
    if (!got.defined()) continue;
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    EXPECT_LT(relative_error(got, expected), kTolerance) << item.key() << " vs reference";
    EXPECT_LT(relative_error(got, plain_params[item.key()].grad()), kTolerance)
        << item.key() << " vs plain";
  }

  // Accounting: without dedup = the plan's kept cross-node rows (both layers); with dedup = one
  // row per (token, remote node), each H floats plus 2 E_node float32 of metadata.
  const RoutingStats& ds = dedup.out.stats;
  const int64_t node = groups.expert->rank() / per_node;
  EXPECT_EQ(ds.cross_node_rows, plain.out.stats.cross_node_rows);
  EXPECT_EQ(plain.out.stats.inter_node_rows, plain.out.stats.cross_node_rows);
  EXPECT_EQ(ds.inter_node_rows, remote_token_nodes(dedup.layer->last_plan(), nodes, node));
  EXPECT_LE(ds.inter_node_rows, ds.cross_node_rows);
  EXPECT_EQ(ds.inter_node_bytes_without_dedup, ds.cross_node_rows * hidden * 4);
  EXPECT_EQ(ds.inter_node_bytes,
            ds.inter_node_rows * (hidden + 2 * options.layer.num_experts / nodes) * 4);
}

MoEBuildOptions options_for(const std::string& router, int64_t experts, int64_t top_k) {
  testing::LayerSpec s;
  s.router = router;
  s.experts = experts;
  s.top_k = top_k;
  s.hidden = 16;
  s.ffn = 24;
  s.jitter = 0.01;
  s.normalize = router != "smile";
  s.seq_len = kSeq;
  MoEBuildOptions o = testing::build_options(s);
  o.router.vocab_size = kVocab;
  o.router.stablemoe.stage2_step = 10;
  o.router.stablemoe.distilled_dim = 5;
  o.router.locmoe.locality_coeff = 0.5;
  return o;
}

std::vector<Case> cases(int64_t experts, int ep) {
  std::vector<Case> out;
  struct R {
    std::string router;
    int64_t k;
  };
  const R routers[] = {{"top_k", 2},     {"top_k", 4}, {"gshard", 2}, {"expert_choice", 2},
                       {"stablemoe", 1}, {"smile", 1}, {"locmoe", 2}};
  for (const R& r : routers) {
    for (double cf : {0.0, 1.0}) {
      Case c;
      c.options = options_for(r.router, experts, r.k);
      if (r.router == "smile") {
        c.options.router.smile.capacity_factor = cf;  // SMILE's per-level capacity
      } else {
        c.options.layer.capacity.capacity_factor = cf;
      }
      c.name = r.router + " k" + std::to_string(r.k) + (cf > 0 ? " capacity" : " dropless");
      out.push_back(c);
    }
  }
  Case rectify;
  rectify.options = options_for("top_k", experts, 2);
  rectify.options.layer.capacity.capacity_factor = 0.5;
  rectify.options.layer.capacity.rectify.intra_rank = true;
  rectify.options.layer.capacity.rectify.fill_in = true;
  rectify.name = "top_k rectify";
  out.push_back(rectify);
  for (double cf : {0.0, 1.0}) {
    Case empty;
    empty.options = options_for("top_k", experts, 2);
    empty.options.layer.capacity.capacity_factor = cf;
    empty.empty_rank = 1;
    empty.name = std::string("top_k empty rank") + (cf > 0 ? " capacity" : " dropless");
    out.push_back(empty);
  }
  (void)ep;
  return out;
}

TEST(NodeDedupGold, FourRanksTwoNodesOfTwo) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  const Shape setup{2, 4, "np4 2x2"};
  for (const Case& c : cases(8, setup.ep)) run_case(c, setup);
}

TEST(NodeDedupGold, EightRanksTwoByFourFourByTwoAndExpertData) {
  if (world_size() != 8) GTEST_SKIP() << "needs 8 ranks";
  for (const Shape& setup : {Shape{4, 8, "np8 2x4"}, Shape{2, 8, "np8 4x2"}}) {
    for (const Case& c : cases(16, setup.ep)) run_case(c, setup);
  }
  const Shape edp{2, 4, "np8 ep4 2x2 edp"};
  for (const Case& c : cases(8, edp.ep)) run_case(c, edp);
}

}  // namespace
}  // namespace switchyard::models
