// The cut of an expert exchange into pipelined chunks (models/moe/exchange_chunks.h): hand-computed
// counts and send rows, and the invariants every cut keeps (pieces add up to the blocks, every
// send row in exactly one chunk, each chunk's rows in expert order).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "comm/a2a/expert_layout.h"
#include "models/moe/exchange_chunks.h"

namespace switchyard::models {
namespace {

// P = 2 ranks, E = 4 experts (L = 2 per rank). counts[src * 4 + e].
//   rank 0 sends: e0 3, e1 2 | e2 1, e3 4      (block 0->0: 5 rows, block 0->1: 5 rows)
//   rank 1 sends: e0 0, e1 1 | e2 2, e3 0      (block 1->0: 1 row,  block 1->1: 2 rows)
const std::vector<int64_t> kCounts = {3, 2, 1, 4, 0, 1, 2, 0};

TEST(ExchangeChunks, HandComputedTwoChunks) {
  const comm::ExpertLayout full = comm::expert_layout_from_counts(0, 2, kCounts);
  const std::vector<ExchangeChunk> chunks = cut_exchange(full, 2);
  ASSERT_EQ(chunks.size(), 2u);
  // Block 0->0 (5 rows: e0 e0 e0 e1 e1): piece 0 = rows [0, 2) -> e0 2; piece 1 = [2, 5) -> e0 1,
  // e1 2. Block 0->1 (e2 e3 e3 e3 e3): [0, 2) -> e2 1, e3 1; [2, 5) -> e3 3.
  // Block 1->0 (e1): [0, 0) empty; [0, 1) -> e1 1. Block 1->1 (e2 e2): [0, 1) e2 1; [1, 2) e2 1.
  EXPECT_EQ(chunks[0].experts.counts, (std::vector<int64_t>{2, 0, 1, 1, 0, 0, 1, 0}));
  EXPECT_EQ(chunks[1].experts.counts, (std::vector<int64_t>{1, 2, 0, 3, 0, 1, 1, 0}));
  // Rank 0's send buffer: rows 0-4 to rank 0, rows 5-9 to rank 1.
  EXPECT_EQ(chunks[0].send_rows, (std::vector<int64_t>{0, 1, 5, 6}));
  EXPECT_EQ(chunks[1].send_rows, (std::vector<int64_t>{2, 3, 4, 7, 8, 9}));
  EXPECT_EQ(chunks[0].experts.layout.send_counts(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(chunks[1].experts.layout.recv_counts(), (std::vector<int64_t>{3, 1}));
  EXPECT_TRUE(chunks[0].experts.layout.agreed());

  // Rank 1's view: the same counts, its own send rows (block 1->0 row 0, block 1->1 rows 1-2).
  const std::vector<ExchangeChunk> other =
      cut_exchange(comm::expert_layout_from_counts(1, 2, kCounts), 2);
  EXPECT_EQ(other[0].experts.counts, chunks[0].experts.counts);
  EXPECT_EQ(other[0].send_rows, (std::vector<int64_t>{1}));
  EXPECT_EQ(other[1].send_rows, (std::vector<int64_t>{0, 2}));
}

TEST(ExchangeChunks, OneChunkIsTheWholeExchange) {
  const comm::ExpertLayout full = comm::expert_layout_from_counts(1, 2, kCounts);
  const std::vector<ExchangeChunk> chunks = cut_exchange(full, 1);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].experts.counts, kCounts);
  EXPECT_EQ(chunks[0].send_rows, (std::vector<int64_t>{0, 1, 2}));
}

TEST(ExchangeChunks, PiecesPartitionEveryBlockForAnyChunkCount) {
  // P = 3, E = 6, varied counts including empty blocks.
  const std::vector<int64_t> counts = {7, 0, 3, 1, 0, 0, 2, 5, 0, 0, 9, 4, 1, 1, 1, 0, 6, 2};
  for (int rank = 0; rank < 3; ++rank) {
    const comm::ExpertLayout full = comm::expert_layout_from_counts(rank, 3, counts);
    for (int c : {1, 2, 3, 4, 7, 16}) {
      const std::vector<ExchangeChunk> chunks = cut_exchange(full, c);
      ASSERT_EQ(static_cast<int>(chunks.size()), c);
      std::vector<int64_t> sum(counts.size(), 0);
      std::vector<int64_t> rows;
      for (const ExchangeChunk& ch : chunks) {
        for (size_t i = 0; i < counts.size(); ++i) sum[i] += ch.experts.counts[i];
        EXPECT_TRUE(std::is_sorted(ch.send_rows.begin(), ch.send_rows.end()));
        EXPECT_EQ(static_cast<int64_t>(ch.send_rows.size()), ch.experts.layout.total_send_rows());
        rows.insert(rows.end(), ch.send_rows.begin(), ch.send_rows.end());
      }
      EXPECT_EQ(sum, counts) << "rank " << rank << " chunks " << c;
      std::sort(rows.begin(), rows.end());
      std::vector<int64_t> all(static_cast<size_t>(full.layout.total_send_rows()));
      std::iota(all.begin(), all.end(), 0);
      EXPECT_EQ(rows, all) << "every send row in exactly one chunk";
    }
  }
}

TEST(ExchangeChunks, RefusesZeroChunks) {
  EXPECT_ANY_THROW(cut_exchange(comm::expert_layout_from_counts(0, 2, kCounts), 0));
}

}  // namespace
}  // namespace switchyard::models
