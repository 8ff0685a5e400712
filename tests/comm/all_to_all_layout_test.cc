// AllToAllLayout, Topology arithmetic, TrafficCounters, row blocks: single process.
#include "comm/all_to_all.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/row_blocks.h"
#include "comm/block_transfers.h"
#include "comm/comm_error.h"
#include "comm/reusable_buffer.h"
#include "comm/topology.h"
#include "comm/traffic.h"
#include "core/errors.h"

namespace switchyard::comm {
namespace {

TEST(AllToAllLayout, FromMatrixAndTransposed) {
  // 3 ranks; rank 1's view.
  const std::vector<int64_t> m = {0, 1, 2,  //
                                  3, 4, 0,  //
                                  5, 0, 6};
  const AllToAllLayout l = AllToAllLayout::from_count_matrix(1, 3, m);
  EXPECT_EQ(l.send_counts(), (std::vector<int64_t>{3, 4, 0}));
  EXPECT_EQ(l.recv_counts(), (std::vector<int64_t>{1, 4, 0}));
  EXPECT_EQ(l.total_send_rows(), 7);
  EXPECT_EQ(l.total_recv_rows(), 5);
  EXPECT_FALSE(l.agreed());
  EXPECT_EQ(l.count(2, 0), 5);
  const AllToAllLayout t = l.transposed();
  EXPECT_EQ(t.send_counts(), l.recv_counts());
  EXPECT_EQ(t.recv_counts(), l.send_counts());
  EXPECT_EQ(t.count(0, 2), 5);
  EXPECT_EQ(t.transposed().count_matrix(), m);
  EXPECT_NE(l.fingerprint(), t.fingerprint());
  EXPECT_NE(l.fingerprint(), 0u);
}

TEST(AllToAllLayout, FromCountsHasNoMatrix) {
  const AllToAllLayout l = AllToAllLayout::from_counts(0, {1, 2}, {3, 0});
  EXPECT_FALSE(l.has_count_matrix());
  EXPECT_EQ(l.fingerprint(), 0u);
  EXPECT_THROW(l.count(0, 1), InternalError);
  EXPECT_THROW(AllToAllLayout::from_counts(0, {1, -2}, {3, 0}), InternalError);
  EXPECT_THROW(AllToAllLayout::from_count_matrix(0, 2, {1, 2, 3}), InternalError);
}

TEST(Topology, EmulatedNodes) {
  const Topology t = make_emulated_topology(5, 8, 4);
  EXPECT_EQ(t.num_nodes, 2);
  EXPECT_EQ(t.node_rank, 1);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.local_size, 4);
  EXPECT_TRUE(t.same_node(4, 7));
  EXPECT_FALSE(t.same_node(3, 4));
  EXPECT_TRUE(t.is_uniform_and_contiguous());
  EXPECT_EQ(t.to_string(), "2 nodes x 4 ranks (emulated)");
  EXPECT_THROW(make_emulated_topology(0, 6, 4), ConfigError);
  const Topology rr = make_topology_from_nodes(3, {0, 1, 0, 1});
  EXPECT_EQ(rr.node_rank, 1);
  EXPECT_EQ(rr.local_rank, 1);
  EXPECT_FALSE(rr.is_uniform_and_contiguous());
}

TEST(TrafficCounters, RecordsOnlyNonEmptyTransfers) {
  TrafficCounters c;
  c.record_send(true, 0);
  c.record_send(true, 10);
  c.record_send(false, 20);
  c.record_send(false, 5);
  EXPECT_EQ(c.intra_node_messages, 1);
  EXPECT_EQ(c.intra_node_bytes, 10);
  EXPECT_EQ(c.inter_node_messages, 2);
  EXPECT_EQ(c.inter_node_bytes, 25);
  TrafficCounters d = c;
  d += c;
  EXPECT_EQ((d - c), c);
}

TEST(RowBlocks, PrefixSums) {
  EXPECT_EQ(exclusive_prefix_sum({2, 0, 3}), (std::vector<int64_t>{0, 2, 2}));
  EXPECT_TRUE(exclusive_prefix_sum({}).empty());
}

// exchange_blocks' shared checks and posting order (comm/block_transfers.h).
TEST(BlockTransfers, ChecksAndOrder) {
  const CommErrorContext ctx{"mpi", "exchange_blocks", "expert", 1, 4, 0};
  const at::Tensor in = at::zeros({6, 2}, at::kFloat);   // [6, 2]
  const at::Tensor out = at::zeros({5, 2}, at::kFloat);  // [5, 2]
  // Valid: row bytes = 2 floats.
  EXPECT_EQ(check_block_exchange({out}, {in}, {{1, 0, 0, 2}}, {{1, 0, 4, 2}}, 1, 4, ctx), 8);
  auto reason = [&](const std::vector<at::Tensor>& outs, const std::vector<at::Tensor>& ins,
                    const std::vector<BlockTransfer>& recvs,
                    const std::vector<BlockTransfer>& sends) -> std::string {
    try {
      check_block_exchange(outs, ins, recvs, sends, 1, 4, ctx);
    } catch (const CommError& e) {
      return e.reason();
    }
    return "accepted";
  };
  EXPECT_EQ(reason({out}, {in}, {}, {{4, 0, 0, 1}}), "sends[0].peer = 4 is not a rank of 4");
  EXPECT_EQ(reason({out}, {in}, {}, {{0, 1, 0, 1}}), "sends[0].buffer = 1 with 1 buffers");
  EXPECT_EQ(reason({out}, {in}, {{0, 0, 4, 2}}, {}),
            "recvs[0] rows [4, +2) outside the buffer's 5 rows");
  EXPECT_EQ(reason({out}, {in}, {{1, 0, 0, 1}}, {{1, 0, 0, 2}}),
            "the blocks this rank sends to itself and receives differ");
  EXPECT_EQ(reason({out.to(at::kDouble)}, {in}, {}, {}).rfind("buffers of different dtypes", 0),
            0u);
  EXPECT_EQ(reason({at::zeros({5, 3})}, {in}, {}, {}).rfind("buffers' trailing dims differ", 0),
            0u);
  // Posting order: sends to the next rank first, receives from the previous rank first; per-peer
  // order kept; empty and self blocks left out.
  const std::vector<BlockTransfer> blocks = {{0, 0, 0, 1}, {3, 0, 1, 1}, {2, 0, 2, 1},
                                             {1, 0, 3, 1}, {2, 0, 4, 0}, {2, 0, 5, 1}};
  auto offsets = [](const std::vector<BlockTransfer>& b) {
    std::vector<int64_t> o;
    for (const BlockTransfer& t : b) o.push_back(t.offset);
    return o;
  };
  EXPECT_EQ(offsets(remote_in_post_order(blocks, 1, 4, false)),
            (std::vector<int64_t>{2, 5, 1, 0}));  // peers 2, 2, 3, 0
  EXPECT_EQ(offsets(remote_in_post_order(blocks, 1, 4, true)),
            (std::vector<int64_t>{0, 1, 2, 5}));  // peers 0, 3, 2, 2
  EXPECT_EQ(offsets(self_blocks(blocks, 1)), (std::vector<int64_t>{3}));
}

TEST(CommError, MessageNamesEverything) {
  const CommTimeoutError e({"mpi", "all_to_all", "expert", 3, 8, 17},
                           std::chrono::milliseconds(250));
  EXPECT_STREQ(e.what(),
               "mpi all_to_all #17 on group 'expert' (rank 3 of 8): timed out after 250 ms (a "
               "peer did not join the collective, or a link is down)");
}

}  // namespace
}  // namespace switchyard::comm

namespace switchyard::comm {
namespace {

TEST(ReusableBuffer, ReusesOnlyStorageNobodyHolds) {
  ReusableBuffer buffer;
  at::Tensor a = buffer.get({4, 3}, at::TensorOptions().dtype(at::kFloat));  // [4, 3]
  a.fill_(1);
  at::Tensor b = buffer.get({4, 3}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_NE(a.data_ptr(), b.data_ptr());  // `a` still held: must not be overwritten
  b.fill_(2);
  EXPECT_TRUE(at::equal(a, at::ones({4, 3})));
  const void* b_ptr = b.data_ptr();
  b = at::Tensor();  // dropped: its storage is the buffer's again
  at::Tensor c = buffer.get({2, 5}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_EQ(c.data_ptr(), b_ptr);
  EXPECT_EQ(c.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(c.is_contiguous());
}

}  // namespace
}  // namespace switchyard::comm
