// ExpertLayout (comm/a2a/expert_layout.h): the agreed layer-step layout from per-expert counts,
// against hand-computed values.
#include "comm/a2a/expert_layout.h"

#include <gtest/gtest.h>

namespace switchyard::comm {
namespace {

// P = 2 ranks, E = 4 experts (rank 0: experts 0, 1; rank 1: experts 2, 3).
//   rank 0 sends [1, 2, 3, 0] rows to experts 0..3; rank 1 sends [4, 0, 5, 6].
const std::vector<int64_t> kCounts = {1, 2, 3, 0,  //
                                      4, 0, 5, 6};

TEST(ExpertLayout, RankToRankLayoutIsAgreed) {
  const ExpertLayout el = expert_layout_from_counts(1, 2, kCounts);
  EXPECT_EQ(el.num_experts, 4);
  EXPECT_EQ(el.local_experts(), 2);
  // rank -> rank rows: 0->0 = 1 + 2, 0->1 = 3 + 0, 1->0 = 4 + 0, 1->1 = 5 + 6.
  EXPECT_EQ(el.layout.count_matrix(), (std::vector<int64_t>{3, 3, 4, 11}));
  EXPECT_EQ(el.layout.send_counts(), (std::vector<int64_t>{4, 11}));
  EXPECT_EQ(el.layout.recv_counts(), (std::vector<int64_t>{3, 11}));
  EXPECT_TRUE(el.layout.agreed());
  EXPECT_TRUE(el.layout.transposed().agreed());
}

TEST(ExpertLayout, ExpertMajorOrder) {
  // Rank 1 receives, by source: from rank 0 [expert 2: 3 rows, expert 3: 0 rows], from rank 1
  // [expert 2: 5 rows, expert 3: 6 rows] -> received rows 0..2 | 3..7 | 8..13.
  const ExpertLayout el = expert_layout_from_counts(1, 2, kCounts);
  EXPECT_EQ(el.rows_per_local_expert(), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(el.expert_major_order(),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
  // Rank 0 receives from rank 0 [e0: 1, e1: 2] and from rank 1 [e0: 4, e1: 0]:
  // received 0 | 1 2 | 3 4 5 6; expert 0 = rows 0, 3..6; expert 1 = rows 1, 2.
  const ExpertLayout r0 = expert_layout_from_counts(0, 2, kCounts);
  EXPECT_EQ(r0.rows_per_local_expert(), (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(r0.expert_major_order(), (std::vector<int64_t>{0, 3, 4, 5, 6, 1, 2}));
}

TEST(ExpertLayout, FromCountMatrixIsNotAgreed) {
  EXPECT_FALSE(AllToAllLayout::from_count_matrix(0, 2, {1, 2, 3, 4}).agreed());
  EXPECT_TRUE(AllToAllLayout::from_agreed_count_matrix(0, 2, {1, 2, 3, 4}).agreed());
}

}  // namespace
}  // namespace switchyard::comm
