// MoE edge cases under expert parallelism (mpi, np 1/2/4/8 = EP 1/2/4/8; issue 18, item 5): for
// every router kind and every dispatcher that applies at the world size (local at EP 1, the
// all-to-all dispatcher over the flat and the hierarchical exchange, the node-deduplicated one
// over 2 emulated nodes from EP 4), the layer on
//   * a rank with zero tokens, and a global batch of one sequence (rank 0 holds it, the others
//     hold nothing),
//   * a whole rank's experts that no token chooses, every token routed to one expert,
//   * a capacity so low that every assignment drops,
//   * NaN router input on rank 0 and +inf router input everywhere,
// gives the routing, outputs and synchronized gradients of the single-process layer on the
// concatenation of every rank's tokens (NaN-aware where the input is not finite), finishes (every
// exchange has the communicator's 60 s timeout), and leaves every expert that received no row
// with gradients of exactly 0.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/host_collectives.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/moe_builder.h"
#include "tests/models/moe_edge_case_util.h"
#include "tests/models/moe_mpi_test_util.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::all_finite;
using testing::bias_for;
using testing::edge_options;
using testing::edge_router_kinds;
using testing::edge_token_ids;
using testing::expect_idle_experts_zero;
using testing::experts_choose;
using testing::force_feature;
using testing::force_routing;
using testing::kForce;
using testing::kInf;
using testing::kNaN;
using testing::make_tokens;
using testing::max_abs;
using testing::relative_error;
using testing::sync_gradients;
using testing::with_rows;
using testing::world_size;

constexpr double kTolerance = 1e-6;
constexpr int64_t kTokensPerRank = 8;

// A dispatcher set-up over the whole world (EP = world size).
struct DispatchSetup {
  std::string name;
  comm::AllToAllAlgorithm algorithm = comm::AllToAllAlgorithm::kFlat;
  int ranks_per_node = 0;  // 0 = one emulated node
  bool dedup = false;
};

struct World {
  std::shared_ptr<comm::MpiCommunicator> world;
  comm::ProcessGroups groups;
  std::shared_ptr<comm::AllToAll> all_to_all;
  comm::NodePhaseAllToAlls phases;
  int nodes = 1;
};

World make_world(const DispatchSetup& s) {
  comm::MpiCommunicatorOptions options;
  options.timeout = std::chrono::milliseconds(60000);  // a hang fails the test
  World w;
  w.world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
  const int size = w.world->size();
  const int per_node = s.ranks_per_node > 0 ? s.ranks_per_node : size;
  w.groups = comm::build_process_groups(
      w.world, comm::make_emulated_topology(w.world->rank(), size, per_node), size);
  w.all_to_all = comm::make_all_to_all(s.algorithm, w.groups);
  if (s.dedup) {
    EXPECT_TRUE(comm::node_dedup_applies(w.groups));
    w.phases = comm::make_node_phase_all_to_alls(w.groups);
  }
  w.nodes = s.ranks_per_node > 0 ? size / s.ranks_per_node : 1;
  return w;
}

struct Case {
  std::string name;
  double cf = 0.0;
  std::vector<int64_t> sizes;  // tokens of each rank
  std::vector<double> bias;    // forced routing (force_routing); empty = none
  int64_t target = -1;         // the expert every token picks first (bias +kForce), -1 = none
  std::vector<int64_t> idle;   // experts no token picks (bias -kForce)
  double bad_value = 0.0;      // non-finite input value of the bad rows, 0 = none
  int bad_rank = -1;           // rank whose tokens are bad; -1 = every rank
  bool all_dropped = false;
};

// a ~ b: relative error below the tolerance when both are finite; otherwise the same non-finite
// pattern and the finite values close.
void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  if (all_finite(a) && all_finite(b)) {
    EXPECT_LT(relative_error(a, b), kTolerance) << what;
    return;
  }
  EXPECT_TRUE(at::equal(at::isfinite(a), at::isfinite(b))) << what << ": non-finite pattern";
  EXPECT_TRUE(at::allclose(a.detach(), b.detach(), 1e-5, 1e-6, /*equal_nan=*/true)) << what;
}

void run_case(const std::string& kind, const Case& c, const DispatchSetup& s, World& w) {
  SCOPED_TRACE(s.name + " " + kind + " " + c.name);
  const int size = w.world->size();
  const int rank = w.world->rank();
  const int64_t experts = size == 8 ? 16 : 8;
  MoEBuildOptions options = edge_options(kind, experts, c.cf);
  options.router.num_nodes = w.nodes;
  options.layer.num_nodes = w.nodes;
  const int64_t hidden = options.layer.hidden_size;
  std::vector<int64_t> rank_nodes;
  int64_t total = 0, offset = 0, nonempty = 0;
  for (int r = 0; r < size; ++r) {
    if (r == rank) offset = total;
    total += c.sizes[static_cast<size_t>(r)];
    nonempty += c.sizes[static_cast<size_t>(r)] > 0;
    rank_nodes.push_back(r / (size / w.nodes));
  }
  const int64_t mine = c.sizes[static_cast<size_t>(rank)];
  at::Tensor x = make_tokens(total, hidden, 17);  // identical on every rank
  if (!c.bias.empty()) x = force_feature(x);
  if (c.bad_value != 0.0) {
    int64_t first = 0;
    for (int r = 0; r < c.bad_rank; ++r) first += c.sizes[static_cast<size_t>(r)];
    x = c.bad_rank < 0 ? with_rows(x, 0, total, c.bad_value)
                       : with_rows(x, first, c.sizes[static_cast<size_t>(c.bad_rank)], c.bad_value);
  }
  const at::Tensor g = make_tokens(total, hidden, 18);
  const at::Tensor ids = edge_token_ids(0, total);

  // Distributed.
  AuxLossCollector aux;
  MoEParallel parallel{w.groups.expert, w.all_to_all, w.world};
  if (s.dedup) {
    parallel.dedup_inter_node = w.phases.inter_node;
    parallel.dedup_intra_node = w.phases.intra_node;
  }
  MoELayer layer = build_moe_layer(options, parallel, &aux);
  if (!c.bias.empty()) force_routing(layer->router(), c.bias);
  const at::Tensor input = x.narrow(0, offset, mine).clone().requires_grad_();
  MoEForwardArgs args;
  args.step = 5;
  args.token_ids = ids.narrow(0, offset, mine);
  MoEOutput out = layer->forward(input, args);
  ((out.output * g.narrow(0, offset, mine)).sum() + aux.weighted_sum()).backward();
  sync_gradients(layer, w.groups);

  // Single-process reference: one routing group and node per rank.
  AuxLossCollector ref_aux;
  MoELayer ref = build_moe_layer(options, MoEParallel{}, &ref_aux);
  if (!c.bias.empty()) force_routing(ref->router(), c.bias);
  const at::Tensor ref_input = x.clone().requires_grad_();
  MoEForwardArgs ref_args;
  ref_args.step = 5;
  ref_args.group_sizes = c.sizes;
  ref_args.group_nodes = rank_nodes;
  ref_args.token_ids = ids;
  MoEOutput ref_out = ref->forward(ref_input, ref_args);
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(nonempty)).backward();

  EXPECT_TRUE(at::equal(layer->last_routing().expert_ids,
                        ref->last_routing().expert_ids.narrow(0, offset, mine)));
  EXPECT_TRUE(at::equal(layer->last_plan().keep, ref->last_plan().keep.narrow(0, offset, mine)));
  expect_close(out.output, ref_out.output.narrow(0, offset, mine), "output");
  expect_close(input.grad(), ref_input.grad().narrow(0, offset, mine), "input gradient");
  const int64_t local = experts / size;
  const int64_t first = w.groups.expert->rank() * local;
  auto ref_params = ref->named_parameters();
  for (const auto& item : layer->named_parameters()) {
    at::Tensor got = item.value().grad();
    at::Tensor expected = ref_params[item.key()].grad();
    ASSERT_EQ(got.defined(), expected.defined()) << item.key();
    if (!got.defined()) continue;
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    expect_close(got, expected, item.key());
  }

  // Rows each local expert received, from every rank's plan.
  const std::vector<int64_t> kept =
      comm::all_reduce_sum(*w.world, layer->last_plan().tokens_per_expert);
  const std::vector<int64_t> received(kept.begin() + first, kept.begin() + first + local);
  const bool finite = c.bad_value == 0.0;
  expect_idle_experts_zero(layer, received, finite);
  if (finite) EXPECT_TRUE(all_finite(out.output));
  if (!finite && c.bad_rank >= 0 && rank != c.bad_rank) EXPECT_TRUE(all_finite(out.output));
  if (c.all_dropped) {
    for (int64_t n : kept) EXPECT_EQ(n, 0);
    EXPECT_EQ(max_abs(out.output), 0.0);
  }
  if (c.target >= 0 && !experts_choose(kind) && mine > 0) {
    // (StableMoE and SMILE mark the assignments their own capacity drops with -1.)
    const at::Tensor first = layer->last_routing().expert_ids.select(1, 0);
    EXPECT_TRUE((first.eq(c.target) | first.eq(-1)).all().item<bool>());
    if (c.cf == 0.0) EXPECT_TRUE(first.eq(c.target).all().item<bool>());
  }
  for (int64_t e : c.idle) EXPECT_EQ(kept[static_cast<size_t>(e)], 0) << "idle expert " << e;
}

std::vector<Case> cases(int size) {
  const int64_t experts = size == 8 ? 16 : 8;
  const int64_t local = experts / size;
  const std::vector<int64_t> even(static_cast<size_t>(size), kTokensPerRank);
  std::vector<int64_t> empty_rank = even;
  empty_rank[static_cast<size_t>(size > 1 ? 1 : 0)] = 0;
  std::vector<int64_t> one_sequence(static_cast<size_t>(size), 0);
  one_sequence[0] = 4;
  std::vector<int64_t> last_rank;
  for (int64_t e = experts - (size > 1 ? local : experts / 2); e < experts; ++e) {
    last_rank.push_back(e);
  }
  std::vector<Case> out;
  for (double cf : {0.0, 1.0}) {
    const std::string mode = cf > 0 ? " capacity" : " dropless";
    out.push_back({"zero tokens on one rank" + mode, cf, empty_rank});
    out.push_back({"one sequence in the batch" + mode, cf, one_sequence});
    Case idle{"last rank's experts idle" + mode, cf, even, bias_for(experts, last_rank, -kForce)};
    idle.idle = last_rank;
    out.push_back(idle);
    Case one{"every token to expert 1" + mode, cf, even, bias_for(experts, {1}, kForce)};
    one.target = 1;
    out.push_back(one);
  }
  Case drops{"everything drops", 1e-12, even};
  drops.all_dropped = true;
  out.push_back(drops);
  Case nan{"NaN on rank 0", 1.0, even};
  nan.bad_value = kNaN;
  nan.bad_rank = 0;
  out.push_back(nan);
  Case inf{"+inf everywhere", 0.0, even};
  inf.bad_value = kInf;
  out.push_back(inf);
  return out;
}

std::vector<DispatchSetup> setups(int size) {
  using comm::AllToAllAlgorithm;
  if (size == 1) return {{"ep1 local"}};
  std::vector<DispatchSetup> out = {{"ep" + std::to_string(size) + " flat"}};
  if (size == 2) out.push_back({"ep2 hier 2x1", AllToAllAlgorithm::kHierarchical, 1});
  if (size == 4) out.push_back({"ep4 hier 2x2", AllToAllAlgorithm::kHierarchical, 2});
  if (size >= 4) {
    out.push_back({"ep" + std::to_string(size) + " dedup 2x" + std::to_string(size / 2),
                   AllToAllAlgorithm::kHierarchical, size / 2, true});
  }
  return out;
}

TEST(MoEEdgeCasesMpi, EveryRouterEveryDispatcher) {
  const int size = world_size();
  for (const DispatchSetup& s : setups(size)) {
    World w = make_world(s);
    for (const std::string& kind : edge_router_kinds()) {
      for (const Case& c : cases(size)) {
        if (experts_choose(kind) && !c.idle.empty()) continue;  // its experts are never idle
        run_case(kind, c, s, w);
      }
    }
  }
}

}  // namespace
}  // namespace switchyard::models
