// Traffic accounting: exact per-rank counters against the formulas, and hierarchical sends G x
// fewer inter-node messages per node than flat for a dense layout, with the same inter-node bytes.
#include <mpi.h>

#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/topology.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

// Sum of a counter over the ranks of one node (raw MPI over the node's communicator).
int64_t node_sum(const ProcessGroups& g, int64_t value) {
  int64_t total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_INT64_T, MPI_SUM, testing::raw(*g.intra_node));
  return total;
}

TEST(TrafficAccounting, DenseLayoutMatchesFormulas) {
  auto world = testing::test_world();
  const int W = world->size();
  for (int G = 1; G <= W; ++G) {
    if (W % G != 0) continue;
    const int N = W / G;
    SCOPED_TRACE(std::to_string(N) + " x " + std::to_string(G));
    const ProcessGroups groups =
        build_process_groups(world, make_emulated_topology(world->rank(), W, G), W);
    auto flat = make_all_to_all(AllToAllAlgorithm::kFlat, groups);
    auto hier = make_all_to_all(AllToAllAlgorithm::kHierarchical, groups);
    auto leader = make_all_to_all(AllToAllAlgorithm::kLeader, groups);
    auto inter_first = make_all_to_all(AllToAllAlgorithm::kInterFirst, groups);
    const int64_t c = 3;  // rows per (src, dst)
    const int64_t H = 4;
    const int64_t row = H * 4;  // float32
    const AllToAllLayout layout =
        AllToAllLayout::exchange_counts(*groups.expert, std::vector<int64_t>(W, c));
    const at::Tensor x = at::ones({c * W, H}, at::kFloat);  // [c * W, H]
    for (auto* a : {&flat, &hier, &leader, &inter_first}) (*a)->exchange(x, layout);
    const TrafficCounters f = flat->traffic();
    const TrafficCounters h = hier->traffic();
    const TrafficCounters l = leader->traffic();
    // Per rank (ALGORITHMS.md §8.1 table, s = c * row bytes per peer).
    EXPECT_EQ(f.intra_node_messages, G - 1);
    EXPECT_EQ(f.intra_node_bytes, (G - 1) * c * row);
    EXPECT_EQ(f.inter_node_messages, G * (N - 1));
    EXPECT_EQ(f.inter_node_bytes, G * (N - 1) * c * row);
    EXPECT_EQ(h.intra_node_messages, G - 1);
    EXPECT_EQ(h.intra_node_bytes, (G - 1) * N * c * row);
    EXPECT_EQ(h.inter_node_messages, N - 1);
    EXPECT_EQ(h.inter_node_bytes, f.inter_node_bytes);
    // Inter-node first (SMILE's order): the same message counts and inter-node bytes as
    // hierarchical; intra-node bytes = the rows this rank forwards within the node.
    const TrafficCounters i = inter_first->traffic();
    EXPECT_EQ(i.inter_node_messages, N - 1);
    EXPECT_EQ(i.inter_node_bytes, f.inter_node_bytes);
    EXPECT_EQ(i.intra_node_messages, G - 1);
    EXPECT_EQ(i.intra_node_bytes, (G - 1) * N * c * row);
    EXPECT_EQ(f.exchanges, 1);
    EXPECT_EQ(h.exchanges, 1);
    // Per node: flat G^2 (N-1) inter-node messages, hierarchical G (N-1): G x fewer.
    const int64_t flat_node = node_sum(groups, f.inter_node_messages);
    const int64_t hier_node = node_sum(groups, h.inter_node_messages);
    EXPECT_EQ(flat_node, int64_t{G} * G * (N - 1));
    EXPECT_EQ(hier_node, int64_t{G} * (N - 1));
    EXPECT_EQ(flat_node, G * hier_node);
    EXPECT_EQ(node_sum(groups, f.inter_node_bytes), node_sum(groups, h.inter_node_bytes));
    // Leader: N - 1 inter-node messages per node, each G^2 times larger than flat's.
    EXPECT_EQ(node_sum(groups, l.inter_node_messages), N - 1);
    EXPECT_EQ(node_sum(groups, l.inter_node_bytes), node_sum(groups, f.inter_node_bytes));
    EXPECT_EQ(node_sum(groups, l.intra_node_messages), 2 * (G - 1));
  }
}

TEST(TrafficAccounting, RandomLayoutsCountNonEmptyTransfersExactly) {
  auto world = testing::test_world();
  const int W = world->size();
  const int G = W % 2 == 0 ? 2 : 1;
  const int N = W / G;
  const ProcessGroups groups =
      build_process_groups(world, make_emulated_topology(world->rank(), W, G), W);
  auto flat = make_all_to_all(AllToAllAlgorithm::kFlat, groups);
  auto hier = make_all_to_all(AllToAllAlgorithm::kHierarchical, groups);
  const int r = world->rank();
  const int n_r = r / G;
  const int l = r % G;
  std::mt19937_64 rng(4242);
  TrafficCounters want_f;
  TrafficCounters want_h;
  for (int it = 0; it < 20; ++it) {
    const std::vector<int64_t> m = testing::random_count_matrix(rng, W, static_cast<int>(it % 7));
    auto cnt = [&](int s, int d) { return m[s * W + d]; };
    const AllToAllLayout layout = AllToAllLayout::from_count_matrix(r, W, m);
    const at::Tensor x = at::zeros({layout.total_send_rows(), 2}, at::kDouble);  // 16 B rows
    flat->exchange(x, layout);
    hier->exchange(x, layout);
    for (int d = 0; d < W; ++d) {
      if (d != r) want_f.record_send(d / G == n_r, cnt(r, d) * 16);
    }
    for (int g = 0; g < G; ++g) {  // intra phase: to local g, sum over nodes
      int64_t rows = 0;
      for (int n = 0; n < N; ++n) rows += cnt(r, n * G + g);
      if (g != l) want_h.record_send(true, rows * 16);
    }
    for (int n = 0; n < N; ++n) {  // inter phase: to node n, sum over source locals
      int64_t rows = 0;
      for (int g = 0; g < G; ++g) rows += cnt(n_r * G + g, n * G + l);
      if (n != n_r) want_h.record_send(false, rows * 16);
    }
    ++want_f.exchanges;
    ++want_h.exchanges;
  }
  EXPECT_EQ(flat->traffic(), want_f) << flat->traffic().to_string() << " vs " << want_f.to_string();
  EXPECT_EQ(hier->traffic(), want_h) << hier->traffic().to_string() << " vs " << want_h.to_string();
  flat->reset_traffic();
  EXPECT_EQ(flat->traffic(), TrafficCounters{});
}

}  // namespace
}  // namespace switchyard::comm
