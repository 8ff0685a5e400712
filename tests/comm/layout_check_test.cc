// Layouts that ranks disagree on are detected before the payload moves, on every rank, with an
// error naming the ranks; no hang, no garbage.
#include <mpi.h>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/comm_error.h"
#include "comm/topology.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

using ::testing::HasSubstr;

ProcessGroups groups_for(const std::shared_ptr<Communicator>& world) {
  const int W = world->size();
  return build_process_groups(world, make_emulated_topology(world->rank(), W, W % 2 ? 1 : 2), W);
}

TEST(LayoutCheck, MismatchedSendRecvCountsNameTheRanks) {
  auto world = testing::test_world();
  const int W = world->size();
  if (W < 2) GTEST_SKIP() << "needs 2 ranks";
  const ProcessGroups groups = groups_for(world);
  auto flat = make_all_to_all(AllToAllAlgorithm::kFlat, groups);
  const int r = world->rank();
  std::vector<int64_t> send(W, 2);
  std::vector<int64_t> recv(W, 2);
  if (r == 1) recv[0] = 3;  // rank 0 sends 2 rows to rank 1, rank 1 expects 3
  const AllToAllLayout layout = AllToAllLayout::from_counts(r, send, recv);
  const at::Tensor x = at::zeros({2 * W, 4}, at::kFloat);
  try {
    flat->exchange(x, layout);
    FAIL() << "disagreeing layout accepted";
  } catch (const CommError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank 0 sends 2 rows to rank 1 but rank 1 expects 3"));
    EXPECT_THAT(e.what(), HasSubstr("flat all_to_all layout check"));
  }
  // Nothing is left half-done: the group still works.
  const AllToAllLayout good = AllToAllLayout::from_counts(r, send, send);
  EXPECT_EQ(flat->exchange(x, good).size(0), 2 * W);
}

TEST(LayoutCheck, DifferentCountMatricesAreDetectedByEveryStrategy) {
  auto world = testing::test_world();
  const int W = world->size();
  if (W < 2) GTEST_SKIP() << "needs 2 ranks";
  const ProcessGroups groups = groups_for(world);
  const int r = world->rank();
  std::vector<int64_t> m(W * W, 1);
  if (r == W - 1) m[0] = 1 + 0;  // same diagonal entry...
  if (r == W - 1) m[1] = 0;      // ...but rank 0 -> 1 differs on the last rank only
  for (auto algo : {AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical,
                    AllToAllAlgorithm::kLeader, AllToAllAlgorithm::kInterFirst}) {
    auto a2a = make_all_to_all(algo, groups);
    const AllToAllLayout layout = AllToAllLayout::from_count_matrix(r, W, m);
    const at::Tensor x = at::zeros({layout.total_send_rows(), 3}, at::kFloat);
    try {
      a2a->exchange(x, layout);
      FAIL() << a2a->name() << " accepted different matrices";
    } catch (const CommError& e) {
      EXPECT_THAT(e.what(), HasSubstr("ranks disagree on the all-to-all layout"));
      EXPECT_THAT(e.what(), HasSubstr("ranks 0 and " + std::to_string(W - 1)));
    }
  }
}

TEST(LayoutCheck, WrongInputRowsAndHiddenSizesAreDetected) {
  auto world = testing::test_world();
  const int W = world->size();
  const ProcessGroups groups = groups_for(world);
  auto flat = make_all_to_all(AllToAllAlgorithm::kFlat, groups);
  const int r = world->rank();
  const AllToAllLayout layout =
      AllToAllLayout::from_count_matrix(r, W, std::vector<int64_t>(W * W, 1));
  const at::Tensor wrong_rows = at::zeros({r == 0 ? W + 1 : W, 3}, at::kFloat);
  try {
    flat->exchange(wrong_rows, layout);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank 0: its input row count differs"));
  }
  if (W < 2) return;
  const at::Tensor wrong_hidden = at::zeros({W, r == W - 1 ? 5 : 3}, at::kFloat);
  try {
    flat->exchange(wrong_hidden, layout);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_THAT(e.what(), HasSubstr("different row sizes"));
  }
}

}  // namespace
}  // namespace switchyard::comm
