// ERC loss and Rectify-Router under expert parallelism (mpi, 4 ranks): the distributed layer
// gives the same routing (including the rectified assignments), outputs, ERC loss value and
// parameter gradients (router and experts, after gradient summation as the trainer does it) as the
// same layer in one process on the rank-ordered concatenation of every rank's tokens, with one
// routing group per rank (the gold-equivalence pattern of gold_equivalence_test.cc).
// ALGORITHMS.md §2.7 and §6.4.
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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

using testing::LayerSpec;
using testing::make_tokens;
using testing::relative_error;
using testing::sync_gradients;
using testing::world_size;

constexpr double kTolerance = 1e-6;

struct Case {
  std::string name;
  MoEBuildOptions options;
  int ep = 4;
  comm::AllToAllAlgorithm algorithm = comm::AllToAllAlgorithm::kFlat;
  int ranks_per_node = 0;  // 0 = one emulated node for the whole world
  int64_t tokens_per_rank = 12;
};

double aux_value(const AuxLossCollector& aux, const std::string& name) {
  for (const AuxLossEntry& e : aux.entries()) {
    if (e.name == name) return e.value.item<double>();
  }
  return -1.0;
}

// Runs the case; returns this rank's all-to-all traffic of the distributed forward + backward.
comm::TrafficCounters run_case(const Case& c) {
  SCOPED_TRACE(c.name);
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = world->size();
  const int rank = world->rank();
  const comm::Topology topology =
      comm::make_emulated_topology(rank, size, c.ranks_per_node > 0 ? c.ranks_per_node : size);
  const comm::ProcessGroups groups = comm::build_process_groups(world, topology, c.ep);
  auto all_to_all = comm::make_all_to_all(c.algorithm, groups);

  const int64_t mine = c.tokens_per_rank;
  const int64_t total = mine * size;
  const int64_t offset = mine * rank;
  const std::vector<int64_t> group_sizes(static_cast<size_t>(size), mine);
  const int64_t hidden = c.options.layer.hidden_size;
  at::Tensor x = make_tokens(total, hidden, 17);  // identical on every rank
  at::Tensor g = make_tokens(total, hidden, 18);

  // Distributed.
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(c.options, MoEParallel{groups.expert, all_to_all, world}, &aux);
  all_to_all->reset_traffic();
  MoEOutput out = layer->forward(x.narrow(0, offset, mine), {5, {}});
  ((out.output * g.narrow(0, offset, mine)).sum() + aux.weighted_sum()).backward();
  const comm::TrafficCounters traffic = all_to_all->traffic();
  sync_gradients(layer, groups);

  // Single-process reference, one routing group per rank; the rectify layout of P EP ranks.
  MoEBuildOptions ref_options = c.options;
  ref_options.layer.capacity.rectify.expert_parallel_size = c.ep;
  AuxLossCollector ref_aux;
  MoELayer ref = build_moe_layer(ref_options, MoEParallel{}, &ref_aux);
  MoEOutput ref_out = ref->forward(x, {5, group_sizes});
  // Every rank adds its own copy of each aux loss: the W copies of the per-group losses sum to
  // W times the reference's mean over groups, the replicated ERC loss to W times its value.
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(size)).backward();

  EXPECT_TRUE(at::equal(layer->last_routing().expert_ids,
                        ref->last_routing().expert_ids.narrow(0, offset, mine)));
  EXPECT_TRUE(at::equal(layer->last_plan().keep, ref->last_plan().keep.narrow(0, offset, mine)));
  const std::optional<RectifiedAssignments>& rect = layer->last_plan().rectified;
  const std::optional<RectifiedAssignments>& ref_rect = ref->last_plan().rectified;
  EXPECT_EQ(rect.has_value(), ref_rect.has_value());
  if (rect.has_value() && ref_rect.has_value()) {
    EXPECT_TRUE(at::equal(rect->expert_ids, ref_rect->expert_ids.narrow(0, offset, mine)));
  }
  EXPECT_LT(relative_error(out.output, ref_out.output.narrow(0, offset, mine)), kTolerance);
  if (c.options.layer.aux.erc.coeff > 0) {
    const double erc = aux_value(aux, "erc");
    EXPECT_GT(erc, 0.0);
    EXPECT_NEAR(erc, aux_value(ref_aux, "erc"), 1e-6 * erc);
  }
  auto ref_params = ref->named_parameters();
  const int64_t local = c.options.layer.num_experts / c.ep;
  const int64_t first = groups.expert->rank() * local;
  for (auto& item : layer->named_parameters()) {
    at::Tensor expected = ref_params[item.key()].grad();
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    EXPECT_LT(relative_error(item.value().grad(), expected), kTolerance) << item.key();
  }
  return traffic;
}

MoEBuildOptions options_for(const std::string& router, int64_t experts, double cf) {
  LayerSpec s;
  s.experts = experts;
  s.hidden = 16;
  s.ffn = 24;
  s.jitter = 0.01;
  s.capacity_factor = cf;
  s.router = router;
  if (router == "switch") {
    s.router = "top_k";
    s.top_k = 1;
    s.normalize = false;
  }
  return testing::build_options(s);
}

TEST(ErcExpertParallel, SameLossAndGradientsAsOneProcess) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  struct Variant {
    int ep;
    int64_t experts;
    ExpertKind kind;
    double cf;
    double alpha;
    comm::AllToAllAlgorithm algorithm;
  };
  const Variant variants[] = {
      {4, 8, ExpertKind::kSwiGlu, 0.0, 1.0, comm::AllToAllAlgorithm::kFlat},
      {4, 8, ExpertKind::kSwiGlu, 1.0, 0.5, comm::AllToAllAlgorithm::kHierarchical},
      {4, 4, ExpertKind::kGeluMlp, 0.0, 0.5, comm::AllToAllAlgorithm::kFlat},
      {2, 4, ExpertKind::kSwiGlu, 1.0, 0.5, comm::AllToAllAlgorithm::kFlat},  // expert-data x2
      {1, 4, ExpertKind::kSwiGlu, 0.0, 0.5, comm::AllToAllAlgorithm::kFlat},  // pure data parallel
  };
  for (const Variant& v : variants) {
    for (const std::string router : {"top_k", "gshard"}) {
      Case c;
      c.options = options_for(router, v.experts, v.cf);
      c.options.experts.kind = v.kind;
      c.options.layer.aux.erc.coeff = 0.7;
      c.options.layer.aux.erc.alpha = v.alpha;
      c.ep = v.ep;
      c.algorithm = v.algorithm;
      c.ranks_per_node = v.algorithm == comm::AllToAllAlgorithm::kHierarchical ? 2 : 0;
      c.name = "erc ep" + std::to_string(v.ep) + " E" + std::to_string(v.experts) + " " + router +
               " alpha " + std::to_string(v.alpha);
      run_case(c);
    }
  }
}

TEST(RectifyExpertParallel, SameRoutingOutputsAndGradientsAsOneProcess) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  int i = 0;
  for (const std::string router : {"switch", "top_k", "gshard"}) {
    for (const auto& [ir, fr] :
         std::vector<std::pair<bool, bool>>{{true, false}, {false, true}, {true, true}}) {
      for (int ep : {4, 2}) {
        Case c;
        c.options = options_for(router, ep == 4 ? 8 : 4, 0.75);
        c.options.layer.capacity.drop_policy = i % 2 ? DropPolicy::kProbs : DropPolicy::kPosition;
        c.options.layer.capacity.rectify.intra_rank = ir;
        c.options.layer.capacity.rectify.fill_in = fr;
        c.options.layer.capacity.rectify.intra_rank_exclude_kept = i % 3 == 0;
        c.options.layer.capacity.rectify.fill_in_renormalize = i % 4 != 1;
        c.ep = ep;
        c.algorithm =
            i % 2 ? comm::AllToAllAlgorithm::kHierarchical : comm::AllToAllAlgorithm::kFlat;
        c.ranks_per_node = 2;
        c.name = "rectify " + router + (ir ? " IR" : "") + (fr ? " FR" : "") + " ep" +
                 std::to_string(ep);
        ++i;
        run_case(c);
      }
    }
  }
  // ERC and both rectifications together.
  Case both;
  both.options = options_for("top_k", 8, 0.75);
  both.options.experts.kind = ExpertKind::kSwiGlu;
  both.options.layer.aux.erc.coeff = 1.0;
  both.options.layer.capacity.rectify.intra_rank = true;
  both.options.layer.capacity.rectify.fill_in = true;
  both.name = "erc + rectify";
  run_case(both);
}

TEST(RectifyExpertParallel, IntraRankRectificationSendsNoExtraBytes) {
  // §6.5 item 3: IR rows stay on the token's rank; the payload traffic to other ranks (forward
  // and backward exchanges) is the same with and without IR.
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  for (const std::string router : {"switch", "top_k"}) {
    Case off;
    off.options = options_for(router, 8, 0.5);
    off.name = "traffic " + router;
    Case on = off;
    on.options.layer.capacity.rectify.intra_rank = true;
    const comm::TrafficCounters a = run_case(off);
    const comm::TrafficCounters b = run_case(on);
    EXPECT_EQ(a.intra_node_bytes + a.inter_node_bytes, b.intra_node_bytes + b.inter_node_bytes)
        << router << ": " << a.to_string() << " vs " << b.to_string();
    EXPECT_GT(a.intra_node_bytes + a.inter_node_bytes, 0);
  }
}

}  // namespace
}  // namespace switchyard::models
