// How many collectives one MoE layer-step issues (forward and backward), counted on every
// communicator of the process groups (tests/testing/counting_communicator.h). The number of small
// (host) collectives is pinned, so that it cannot silently grow back: the dispatcher's expert
// count all-gather (1; the node-dedup dispatcher's two-phase count all-gather, likewise), the token
// shuffle's count all-gather (+1 when shuffling), the row-offset all-gather (+1 only when noise is
// drawn and the caller did not pass its batch rows). The layout those exchanges use is agreed, so
// none of the 4 payload exchanges verifies it.
#include <mpi.h>

#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "models/moe/moe_builder.h"
#include "tests/models/moe_test_util.h"
#include "tests/testing/counting_communicator.h"
#include "tests/testing/mpi_world.h"

namespace switchyard::models {
namespace {

using switchyard::testing::CollectiveCounts;
using switchyard::testing::CountingCommunicator;
using testing::LayerSpec;
using testing::make_tokens;

struct Case {
  std::string name;
  LayerSpec spec;
  comm::AllToAllAlgorithm algorithm = comm::AllToAllAlgorithm::kHierarchical;
  bool shuffle = false;
  bool pass_batch_rows = false;
  int expected_small = 0;
  bool global_statistics = false;  // aux_loss.global_statistics (one more all-gather)
  bool dedup = false;              // node-deduplicated dispatch (docs/dedup.md)
};

// Runs one forward + backward of an EP layer over the whole world (2 emulated nodes) and returns
// the collectives it issued on this rank, and the number of payload exchanges.
CollectiveCounts run_layer_step(const Case& c, int64_t* exchanges) {
  auto counts = std::make_shared<CollectiveCounts>();
  auto world = std::make_shared<CountingCommunicator>(
      comm::MpiCommunicator::duplicate(MPI_COMM_WORLD), counts);
  const int size = world->size();
  const int rank = world->rank();
  const comm::ProcessGroups groups =
      comm::build_process_groups(world, comm::make_emulated_topology(rank, size, size / 2), size);
  auto all_to_all = comm::make_all_to_all(c.algorithm, groups);
  MoEBuildOptions options = testing::build_options(c.spec);
  options.layer.shuffle_tokens = c.shuffle;
  options.layer.aux.global_statistics = c.global_statistics;
  AuxLossCollector aux;
  MoEParallel parallel{groups.expert, all_to_all, groups.host_world, groups.host_expert};
  const comm::NodePhaseAllToAlls phases = comm::make_node_phase_all_to_alls(groups);
  if (c.dedup) {
    parallel.dedup_inter_node = phases.inter_node;
    parallel.dedup_intra_node = phases.intra_node;
  }
  MoELayer layer = build_moe_layer(options, parallel, &aux);
  const int64_t tokens = 24;
  at::Tensor x = make_tokens(tokens, c.spec.hidden, 40 + rank).set_requires_grad(true);
  MoEForwardArgs args;
  args.step = 3;
  if (c.pass_batch_rows) args.batch_rows = BatchRows{rank * tokens, size * tokens};

  counts->calls.clear();  // building the groups split and verified; count the step only
  MoEOutput out = layer->forward(x, args);
  (out.output.sum() + aux.weighted_sum()).backward();
  *exchanges = all_to_all->traffic().exchanges;
  if (c.dedup) {
    *exchanges += phases.inter_node->traffic().exchanges + phases.intra_node->traffic().exchanges;
  }
  return *counts;
}

class MoECollectives : public ::testing::TestWithParam<Case> {};

TEST_P(MoECollectives, SmallCollectivesPerLayerStep) {
  const Case& c = GetParam();
  int64_t exchanges = 0;
  const CollectiveCounts counts = run_layer_step(c, &exchanges);
  EXPECT_EQ(counts.small(), c.expected_small)
      << "all_gather " << counts.of("all_gather") << ", all_reduce " << counts.of("all_reduce")
      << ", broadcast " << counts.of("broadcast") << ", barrier " << counts.of("barrier");
  EXPECT_EQ(counts.of("all_reduce") + counts.of("broadcast") + counts.of("barrier"), 0);
  // Dispatch and combine forward, and both again in backward (+ the shuffle's 4 when on). Node
  // dedup: each of its two phases (inter-node, intra-node fan-out) 4 times.
  EXPECT_EQ(exchanges, c.shuffle || c.dedup ? 8 : 4);
  EXPECT_GT(counts.of("all_to_all"), 0);
}

LayerSpec spec(double jitter, const std::string& router = "top_k") {
  LayerSpec s;
  s.router = router;
  s.experts = 8;
  s.jitter = jitter;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    LayerStep,
    MoECollectives,
    ::testing::Values(
        Case{"no_noise_hierarchical", spec(0.0), comm::AllToAllAlgorithm::kHierarchical, false,
             false, 1},
        Case{"no_noise_flat", spec(0.0), comm::AllToAllAlgorithm::kFlat, false, false, 1},
        Case{"no_noise_leader", spec(0.0), comm::AllToAllAlgorithm::kLeader, false, false, 1},
        Case{"jitter_rows_gathered", spec(0.1), comm::AllToAllAlgorithm::kHierarchical, false,
             false, 2},
        Case{"jitter_rows_passed", spec(0.1), comm::AllToAllAlgorithm::kHierarchical, false, true,
             1},
        Case{"gshard_random_policy", spec(0.0, "gshard"), comm::AllToAllAlgorithm::kFlat, false,
             false, 2},
        Case{"shuffle", spec(0.0), comm::AllToAllAlgorithm::kHierarchical, true, false, 2},
        Case{"shuffle_jitter_rows_passed", spec(0.1), comm::AllToAllAlgorithm::kHierarchical, true,
             true, 2},
        // Issue 17 item 10: global load-balancing statistics add exactly one all-gather.
        Case{"global_aux_statistics", spec(0.0), comm::AllToAllAlgorithm::kHierarchical, false,
             false, 2, true},
        // Issue 19: the node-deduplicated dispatch gathers both phases' counts in one all-gather.
        Case{"node_dedup", spec(0.0), comm::AllToAllAlgorithm::kHierarchical, false, false, 1,
             false, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// With the rows passed, the shuffled layer derives its row offsets locally: the same offsets
// (hence the same jitter) as the gathered ones.
TEST(MoECollectives, PassedRowsGiveTheGatheredJitter) {
  Case gathered{"", spec(0.1), comm::AllToAllAlgorithm::kFlat, true, false, 0};
  Case passed = gathered;
  passed.pass_batch_rows = true;
  auto run = [](const Case& c) {
    auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
    const int size = world->size();
    const int rank = world->rank();
    const comm::ProcessGroups groups =
        comm::build_process_groups(world, comm::make_emulated_topology(rank, size, size / 2), size);
    MoEBuildOptions options = testing::build_options(c.spec);
    options.layer.shuffle_tokens = c.shuffle;
    AuxLossCollector aux;
    MoELayer layer = build_moe_layer(
        options,
        MoEParallel{groups.expert, comm::make_all_to_all(c.algorithm, groups), groups.host_world},
        &aux);
    const int64_t tokens = 24;
    MoEForwardArgs args;
    args.step = 3;
    if (c.pass_batch_rows) args.batch_rows = BatchRows{rank * tokens, size * tokens};
    return layer->forward(make_tokens(tokens, c.spec.hidden, 40 + rank), args).output;
  };
  EXPECT_TRUE(at::equal(run(gathered), run(passed)));
}

}  // namespace
}  // namespace switchyard::models
