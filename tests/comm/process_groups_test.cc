// Topology detection / emulation and the MoE process groups.
#include "comm/process_groups.h"

#include <mpi.h>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/topology.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

TEST(Topology, DetectedOnOneHostIsOneNode) {
  const Topology t = detect_topology(MPI_COMM_WORLD);
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(t.num_nodes, 1);
  EXPECT_EQ(t.local_size, size);
  EXPECT_EQ(t.local_rank, t.world_rank);
  EXPECT_FALSE(t.emulated);
}

TEST(Topology, RanksPerNodeOverridesDetection) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size % 2 != 0) GTEST_SKIP() << "needs an even world";
  TopologyOptions options;
  options.ranks_per_node = 2;
  const Topology t = detect_topology(MPI_COMM_WORLD, options);
  EXPECT_TRUE(t.emulated);
  EXPECT_EQ(t.num_nodes, size / 2);
  EXPECT_EQ(t.node_rank, t.world_rank / 2);
  EXPECT_EQ(t.local_rank, t.world_rank % 2);
  EXPECT_TRUE(t.is_uniform_and_contiguous());
}

TEST(ProcessGroups, GroupsOfEveryKind) {
  auto world = testing::test_world();
  const int W = world->size();
  const int r = world->rank();
  for (int g = 1; g <= W; ++g) {
    if (W % g != 0) continue;
    for (int ep = 1; ep <= W; ++ep) {
      if (W % ep != 0) continue;
      SCOPED_TRACE("G " + std::to_string(g) + " EP " + std::to_string(ep));
      const Topology topo = make_emulated_topology(r, W, g);
      const ProcessGroups pg = build_process_groups(world, topo, ep);
      EXPECT_EQ(pg.expert->size(), ep);
      EXPECT_EQ(pg.expert->rank(), r % ep);
      EXPECT_EQ(pg.expert_data->size(), W / ep);
      EXPECT_EQ(pg.expert_data->rank(), r / ep);
      EXPECT_EQ(pg.intra_node->size(), g);
      EXPECT_EQ(pg.intra_node->rank(), r % g);
      EXPECT_EQ(pg.inter_node->size(), W / g);
      EXPECT_EQ(pg.inter_node->rank(), r / g);
      const bool contiguous = ep % g == 0 || g % ep == 0;
      EXPECT_EQ(pg.expert_is_node_contiguous, contiguous);
      if (contiguous) {
        const int g_ep = std::min(g, ep);
        EXPECT_EQ(pg.expert_ranks_per_node, g_ep);
        EXPECT_EQ(pg.expert_num_nodes, ep / g_ep);
        EXPECT_EQ(pg.expert_intra_node->size(), g_ep);
        EXPECT_EQ(pg.expert_inter_node->size(), ep / g_ep);
        EXPECT_EQ(pg.expert->rank(),
                  pg.expert_inter_node->rank() * g_ep + pg.expert_intra_node->rank());
      }
      // expert_data members hold the same EP rank: all-reduce of the EP rank = size * rank.
      at::Tensor t = at::full({1}, pg.expert->rank(), at::kLong);
      pg.expert_data->all_reduce(t)->wait();
      EXPECT_EQ(t.item<int64_t>(), int64_t{pg.expert->rank()} * pg.expert_data->size());
    }
  }
}

}  // namespace
}  // namespace switchyard::comm
