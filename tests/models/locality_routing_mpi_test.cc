// SMILE (arXiv 2212.05191) and LocMoE (arXiv 2401.13920) under emulated topologies of 2 ranks
// per node (np 4: 2 nodes x 2, np 8: 4 nodes x 2), expert parallelism over the world:
//   * gold equivalence: the distributed layer (SMILE over its inter-node-first two-phase
//     exchange; LocMoE over flat and hierarchical) gives the routing, outputs and gradients of
//     the single-process layer on the concatenated tokens, one routing group (and node) per rank;
//   * ALGORITHMS.md §4.5 item 1 (each row crosses the network at most once) and item 6 (group
//     construction);
//   * traffic against flat top-k on the same tokens, measured in the same test: SMILE lowers the
//     inter-node share of messages, LocMoE (after training with its locality loss) the inter-node
//     share of bytes. The measured figures are printed by rank 0 ("[figures]").
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/moe_builder.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

constexpr int kRanksPerNode = 2;
constexpr double kTolerance = 1e-6;
constexpr int64_t kHidden = 16;

struct World {
  std::shared_ptr<comm::Communicator> world;
  comm::ProcessGroups groups;
  int size = 1;
  int rank = 0;
  int nodes = 1;
};

World make_world() {
  World w;
  w.world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  w.size = w.world->size();
  w.rank = w.world->rank();
  w.groups = comm::build_process_groups(
      w.world, comm::make_emulated_topology(w.rank, w.size, kRanksPerNode), w.size);
  w.nodes = w.size / kRanksPerNode;
  return w;
}

struct Spec {
  std::string router = "smile";  // "smile", "locmoe" or "top_k"
  int64_t top_k = 1;
  double capacity_factor = 0.0;  // SMILE: per-level; others: the dispatcher's
  bool per_node = false;         // SMILE router_per_node
  bool grap = false;             // LocMoE GrAP gating
  double locality_coeff = 0.01;
  double jitter = 0.01;
};

MoEBuildOptions options_for(const Spec& s, int64_t experts, int nodes) {
  testing::LayerSpec l;
  l.router = s.router;
  l.experts = experts;
  l.hidden = kHidden;
  l.ffn = 24;
  l.top_k = s.top_k;
  l.normalize = s.router != "smile";
  l.jitter = s.jitter;
  l.capacity_factor = s.router == "smile" ? 0.0 : s.capacity_factor;
  MoEBuildOptions o = testing::build_options(l);
  o.router.num_nodes = nodes;
  o.layer.num_nodes = nodes;
  o.router.smile.router_per_node = s.per_node;
  o.router.smile.capacity_factor = s.router == "smile" ? s.capacity_factor : 0.0;
  o.router.locmoe.grouped_average_pooling = s.grap;
  o.router.locmoe.locality_coeff = s.locality_coeff;
  return o;
}

comm::AllToAllAlgorithm algorithm_for(const Spec& s) {
  return s.router == "smile" ? comm::AllToAllAlgorithm::kInterFirst
                             : comm::AllToAllAlgorithm::kFlat;
}

void sync_router_gradients(MoELayer& layer, comm::Communicator& world) {
  for (auto& item : layer->named_parameters()) {
    at::Tensor grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key();
    // Router parameters are replicated: sum over the world. Experts: EP = world, no replicas.
    if (item.key().rfind("experts.", 0) != 0) world.all_reduce(grad)->wait();
  }
}

void gold_case(World& w,
               const Spec& s,
               comm::AllToAllAlgorithm algorithm,
               const std::string& name) {
  SCOPED_TRACE(name);
  const int64_t experts = 4 * w.nodes;  // 2 experts per rank
  const int64_t per_rank = 12;
  const int64_t total = per_rank * w.size;
  const int64_t offset = per_rank * w.rank;
  at::Tensor x = make_tokens(total, kHidden, 17);
  at::Tensor g = make_tokens(total, kHidden, 18);
  const MoEBuildOptions options = options_for(s, experts, w.nodes);
  auto a2a = comm::make_all_to_all(algorithm, w.groups);

  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(options, MoEParallel{w.groups.expert, a2a, w.world}, &aux);
  MoEOutput out = layer->forward(x.narrow(0, offset, per_rank), {5, {}});
  ((out.output * g.narrow(0, offset, per_rank)).sum() + aux.weighted_sum()).backward();
  sync_router_gradients(layer, *w.world);

  AuxLossCollector ref_aux;
  MoELayer ref = build_moe_layer(options, MoEParallel{}, &ref_aux);
  std::vector<int64_t> sizes(static_cast<size_t>(w.size), per_rank);
  std::vector<int64_t> nodes;
  for (int r = 0; r < w.size; ++r) nodes.push_back(r / kRanksPerNode);
  MoEOutput ref_out = ref->forward(x, {5, sizes, nodes});
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(w.size)).backward();

  // The same named losses were registered.
  ASSERT_EQ(aux.entries().size(), ref_aux.entries().size());
  EXPECT_TRUE(at::equal(layer->last_routing().expert_ids,
                        ref->last_routing().expert_ids.narrow(0, offset, per_rank)));
  EXPECT_TRUE(
      at::equal(layer->last_plan().keep, ref->last_plan().keep.narrow(0, offset, per_rank)));
  EXPECT_LT(relative_error(out.output, ref_out.output.narrow(0, offset, per_rank)), kTolerance);
  auto ref_params = ref->named_parameters();
  const int64_t local = experts / w.size;
  for (auto& item : layer->named_parameters()) {
    at::Tensor expected = ref_params[item.key()].grad();
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, w.rank * local, local);
    EXPECT_LT(relative_error(item.value().grad(), expected), kTolerance) << item.key();
  }
}

TEST(LocalityRoutingGold, SmileAndLocMoEMatchSingleProcess) {
  World w = make_world();
  if (w.size % kRanksPerNode != 0 || w.size < 4) GTEST_SKIP() << "needs 2 x 2 or more";
  for (bool per_node : {false, true}) {
    for (double cf : {0.0, 1.0}) {
      Spec s;
      s.per_node = per_node;
      s.capacity_factor = cf;
      gold_case(w, s, comm::AllToAllAlgorithm::kInterFirst,
                std::string("smile") + (per_node ? " per-node" : " shared") +
                    (cf > 0 ? " capacity" : " dropless"));
    }
  }
  for (bool grap : {false, true}) {
    for (double cf : {0.0, 1.0}) {
      Spec s;
      s.router = "locmoe";
      s.top_k = 2;
      s.grap = grap;
      s.capacity_factor = cf;
      s.locality_coeff = 0.5;
      const std::string name = std::string("locmoe") + (grap ? " grap" : " linear") +
                               (cf > 0 ? " capacity" : " dropless");
      gold_case(w, s, comm::AllToAllAlgorithm::kFlat, name + " flat");
      gold_case(w, s, comm::AllToAllAlgorithm::kHierarchical, name + " hierarchical");
    }
  }
}

// §4.5 item 6: one inter-node group of size N and one intra-node group of size G per rank; the
// inter-node groups partition the world.
TEST(LocalityRoutingGroups, InterAndIntraNodeGroupsPartitionTheWorld) {
  World w = make_world();
  if (w.size % kRanksPerNode != 0 || w.size < 4) GTEST_SKIP() << "needs 2 x 2 or more";
  EXPECT_EQ(w.groups.expert_inter_node->size(), w.nodes);
  EXPECT_EQ(w.groups.expert_intra_node->size(), kRanksPerNode);
  // Every rank's inter-node group holds the ranks with its local index: all-gather the local
  // index over the group and check they are equal; over the world, the groups' sizes sum to W.
  at::Tensor mine = at::full({1}, static_cast<int64_t>(w.rank % kRanksPerNode), at::kLong);
  at::Tensor all = at::empty({w.nodes}, at::kLong);
  w.groups.expert_inter_node->all_gather(all, mine)->wait();
  EXPECT_TRUE(at::equal(all, mine.expand({w.nodes})));
  at::Tensor leader =
      at::full({1}, w.groups.expert_inter_node->rank() == 0 ? w.nodes : 0, at::kLong);
  w.world->all_reduce(leader)->wait();
  EXPECT_EQ(leader.item<int64_t>(), w.size);
}

struct Share {
  comm::TrafficCounters t;  // summed over the world
  int64_t cross_rows = 0;
  int64_t rows = 0;
  double message_share() const {
    const double all = static_cast<double>(t.inter_node_messages + t.intra_node_messages);
    return all > 0 ? static_cast<double>(t.inter_node_messages) / all : 0.0;
  }
  double byte_share() const {
    const double all = static_cast<double>(t.inter_node_bytes + t.intra_node_bytes);
    return all > 0 ? static_cast<double>(t.inter_node_bytes) / all : 0.0;
  }
};

Share world_sum(comm::Communicator& world, const comm::TrafficCounters& t, const RoutingStats& s) {
  at::Tensor v = at::tensor({t.inter_node_messages, t.intra_node_messages, t.inter_node_bytes,
                             t.intra_node_bytes, s.cross_node_rows, s.dispatched_rows},
                            at::kLong);  // [6]
  world.all_reduce(v)->wait();
  Share out;
  out.t.inter_node_messages = v[0].item<int64_t>();
  out.t.intra_node_messages = v[1].item<int64_t>();
  out.t.inter_node_bytes = v[2].item<int64_t>();
  out.t.intra_node_bytes = v[3].item<int64_t>();
  out.cross_rows = v[4].item<int64_t>();
  out.rows = v[5].item<int64_t>();
  return out;
}

// One training step (forward with the traffic counters reset before it, backward, router SGD);
// returns the forward's world-summed traffic. lr 0 = measure only.
Share step(World& w,
           MoELayer& layer,
           AuxLossCollector& aux,
           const std::shared_ptr<comm::AllToAll>& a2a,
           const at::Tensor& x,
           const at::Tensor& g,
           int64_t step_index,
           double lr) {
  aux.clear();
  layer->zero_grad();
  a2a->reset_traffic();
  MoEOutput out = layer->forward(x, {step_index, {}});
  Share share = world_sum(*w.world, a2a->traffic(), out.stats);
  ((out.output * g).sum() + aux.weighted_sum()).backward();
  sync_router_gradients(layer, *w.world);
  if (lr > 0) {
    at::NoGradGuard no_grad;
    for (auto& item : layer->named_parameters()) {
      if (item.key().rfind("router.", 0) == 0) item.value().sub_(item.value().grad() * lr);
    }
  }
  return share;
}

TEST(LocalityRoutingTraffic, SmileLowersInterNodeMessageShareVsFlatTopK) {
  World w = make_world();
  if (w.size % kRanksPerNode != 0 || w.size < 4) GTEST_SKIP() << "needs 2 x 2 or more";
  const int64_t experts = 4 * w.nodes;
  const int64_t per_rank = 64;
  at::Tensor x = make_tokens(per_rank * w.size, kHidden, 31).narrow(0, per_rank * w.rank, per_rank);
  at::Tensor g = make_tokens(per_rank * w.size, kHidden, 32).narrow(0, per_rank * w.rank, per_rank);
  std::vector<std::pair<std::string, Share>> results;
  for (const std::string kind : {"smile", "top_k:1", "top_k:2"}) {
    Spec s;
    s.router = kind == "smile" ? "smile" : "top_k";
    s.top_k = kind == "top_k:2" ? 2 : 1;
    auto a2a = comm::make_all_to_all(algorithm_for(s), w.groups);
    AuxLossCollector aux;
    MoELayer layer = build_moe_layer(options_for(s, experts, w.nodes),
                                     MoEParallel{w.groups.expert, a2a, w.world}, &aux);
    const Share share = step(w, layer, aux, a2a, x, g, 0, 0.0);
    results.emplace_back(kind, share);
    if (kind == "smile") {
      // §4.5 item 1: forward = dispatch + combine; every cross-node row crosses exactly once per
      // direction, so inter-node bytes = 2 * cross-node rows * row bytes.
      EXPECT_EQ(share.t.inter_node_bytes, 2 * share.cross_rows * kHidden * 4);
      // At most N - 1 inter-node messages per rank and exchange (2 exchanges).
      EXPECT_LE(share.t.inter_node_messages, int64_t{2} * w.size * (w.nodes - 1));
    }
  }
  const Share& smile = results[0].second;
  for (size_t i = 1; i < results.size(); ++i) {
    EXPECT_LT(smile.message_share(), results[i].second.message_share()) << results[i].first;
    EXPECT_LT(smile.t.inter_node_messages, results[i].second.t.inter_node_messages)
        << results[i].first;
  }
  if (w.rank == 0) {
    for (const auto& [kind, s] : results) {
      std::printf(
          "[figures] %d nodes x %d: %-8s inter-node messages %lld of %lld (share %.3f), "
          "inter-node bytes %lld of %lld (share %.3f), cross-node rows %lld of %lld\n",
          w.nodes, kRanksPerNode, kind.c_str(), static_cast<long long>(s.t.inter_node_messages),
          static_cast<long long>(s.t.inter_node_messages + s.t.intra_node_messages),
          s.message_share(), static_cast<long long>(s.t.inter_node_bytes),
          static_cast<long long>(s.t.inter_node_bytes + s.t.intra_node_bytes), s.byte_share(),
          static_cast<long long>(s.cross_rows), static_cast<long long>(s.rows));
    }
  }
}

TEST(LocalityRoutingTraffic, LocMoELowersInterNodeByteShareVsFlatTopK) {
  World w = make_world();
  if (w.size % kRanksPerNode != 0 || w.size < 4) GTEST_SKIP() << "needs 2 x 2 or more";
  const int64_t experts = 4 * w.nodes;
  // Few tokens per rank: a replicated router can only prefer a rank's own node by fitting that
  // rank's tokens (i.i.d. tokens carry no rank feature), so the test uses a learnable amount.
  const int64_t per_rank = 8;
  const int steps = 40;
  const double lr = 1.0;
  at::Tensor x = make_tokens(per_rank * w.size, kHidden, 41).narrow(0, per_rank * w.rank, per_rank);
  at::Tensor g = make_tokens(per_rank * w.size, kHidden, 42).narrow(0, per_rank * w.rank, per_rank);
  std::vector<std::pair<Share, Share>> first_last;  // top-k, locmoe
  for (const std::string kind : {"top_k", "locmoe"}) {
    Spec s;
    s.router = kind;
    s.top_k = 2;
    s.jitter = 0.0;
    s.locality_coeff = 1.0;
    auto a2a = comm::make_all_to_all(comm::AllToAllAlgorithm::kFlat, w.groups);
    AuxLossCollector aux;
    MoELayer layer = build_moe_layer(options_for(s, experts, w.nodes),
                                     MoEParallel{w.groups.expert, a2a, w.world}, &aux);
    Share first;
    for (int i = 0; i < steps; ++i) {
      const Share sh = step(w, layer, aux, a2a, x, g, i, lr);
      if (i == 0) first = sh;
    }
    const Share last = step(w, layer, aux, a2a, x, g, steps, 0.0);
    first_last.emplace_back(first, last);
  }
  const auto& [topk_first, topk_last] = first_last[0];
  const auto& [loc_first, loc_last] = first_last[1];
  // Same initial router (same seed): identical traffic before training.
  EXPECT_EQ(topk_first.t, loc_first.t);
  EXPECT_LT(loc_last.byte_share(), topk_last.byte_share());
  EXPECT_LT(loc_last.t.inter_node_bytes, topk_last.t.inter_node_bytes);
  if (w.rank == 0) {
    const char* names[] = {"top_k:2", "locmoe:2"};
    for (int i = 0; i < 2; ++i) {
      const Share& a = i == 0 ? topk_first : loc_first;
      const Share& b = i == 0 ? topk_last : loc_last;
      std::printf(
          "[figures] %d nodes x %d: %-8s inter-node byte share %.3f before, %.3f after %d "
          "router steps (cross-node rows %lld -> %lld of %lld)\n",
          w.nodes, kRanksPerNode, names[i], a.byte_share(), b.byte_share(), steps,
          static_cast<long long>(a.cross_rows), static_cast<long long>(b.cross_rows),
          static_cast<long long>(b.rows));
    }
  }
}

}  // namespace
}  // namespace switchyard::models
