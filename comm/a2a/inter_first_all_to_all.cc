#include "comm/a2a/inter_first_all_to_all.h"

#include <ATen/ATen.h>

#include "comm/a2a/exchange_rows.h"
#include "comm/a2a/layout_check.h"
#include "comm/a2a/row_blocks.h"
#include "comm/comm_error.h"
#include "core/check.h"

namespace switchyard::comm {

InterFirstAllToAll::InterFirstAllToAll(std::shared_ptr<Communicator> group,
                                       std::shared_ptr<Communicator> intra_node,
                                       std::shared_ptr<Communicator> inter_node,
                                       AllToAllStrategyOptions options)
    : TwoLevelAllToAll(
          "inter_first", std::move(group), std::move(intra_node), std::move(inter_node), options) {}

at::Tensor InterFirstAllToAll::exchange(const at::Tensor& input, const AllToAllLayout& layout) {
  check_layout(input, layout);
  const int N = num_nodes_;
  const int G = ranks_per_node_;
  const int r = group_->rank();
  const int n_r = inter_->rank();
  const int l = intra_->rank();
  auto rank_of = [G](int n, int g) { return n * G + g; };
  auto cnt = [&layout](int s, int d) { return layout.count(s, d); };
  const int64_t bytes = row_bytes(input);
  const at::Tensor in = input.contiguous();
  const BlockOffsets off = block_offsets(layout);
  const std::vector<int64_t>& in_off = off.in;    // [dst rank]
  const std::vector<int64_t>& out_off = off.out;  // [src rank]
  // Stage: rows relayed by this rank, [dst local g != l][src node n' != n_r], blocks
  // cnt[(n',l)][(n_r,g)]; stage_off[g * N + n'].
  int64_t stage_rows = 0;
  const std::vector<int64_t> stage_off = grid_offsets(
      G, N, [&](int g, int n) { return g == l || n == n_r; },
      [&](int g, int n) { return cnt(rank_of(n, l), rank_of(n_r, g)); }, &stage_rows);
  at::Tensor out = rows_like(output_, in, layout.total_recv_rows());  // [total_recv, ...] by src
  at::Tensor stage = rows_like(phase1_buffer_, in, stage_rows);       // [stage_rows, ...]

  // Phase 1, inter-node among the ranks with local index l: to node n, the blocks for (n, g) of
  // every local g, straight from the input; from node n', its blocks for (n_r, g): the one for
  // this rank into the output, the others into the stage. Own rows for this node's other ranks
  // stay in the input (phase 2 sends them from there); the block for itself is the one copy.
  std::vector<BlockTransfer> sends1;
  std::vector<BlockTransfer> recvs1;
  for (int n = 0; n < N; ++n) {
    int64_t all = 0;  // the rows for node n (accounted as one message)
    for (int g = 0; g < G; ++g) {
      const int d = rank_of(n, g);
      all += cnt(r, d);
      if (n == n_r && g != l) continue;  // own rows for this node: sent in phase 2
      sends1.push_back({n, 0, in_off[d], cnt(r, d)});
      const int s = rank_of(n, l);
      const int64_t rows = cnt(s, rank_of(n_r, g));
      recvs1.push_back(g == l
                           ? BlockTransfer{n, 0, out_off[s], rows}
                           : BlockTransfer{n, 1, stage_off[static_cast<size_t>(g) * N + n], rows});
    }
    if (n != n_r) traffic_.record_send(false, all * bytes);
  }
  // in: [total_send, ...]; out: [total_recv, ...] (sources with local index l), stage
  inter_->exchange_blocks({out, stage}, {in}, recvs1, sends1, {options_.timeout})->wait();

  // Phase 2, intra-node: to local g, the rows of every source node n' for (n_r, g), in node
  // order (own rows from the input, relayed rows from the stage); from local g', the rows of
  // the sources (n', g') for this rank, straight into the output.
  std::vector<BlockTransfer> sends2;
  std::vector<BlockTransfer> recvs2;
  for (int g = 0; g < G; ++g) {
    if (g == l) continue;
    int64_t sent = 0;
    for (int n = 0; n < N; ++n) {
      const int64_t rows = cnt(rank_of(n, l), rank_of(n_r, g));
      sends2.push_back(n == n_r
                           ? BlockTransfer{g, 0, in_off[rank_of(n_r, g)], rows}
                           : BlockTransfer{g, 1, stage_off[static_cast<size_t>(g) * N + n], rows});
      sent += rows;
      const int s = rank_of(n, g);
      recvs2.push_back({g, 0, out_off[s], cnt(s, r)});
    }
    traffic_.record_send(true, sent * bytes);
  }
  ++traffic_.exchanges;
  // in: input, stage; out: [total_recv, ...] grouped by source rank
  intra_->exchange_blocks({out}, {in, stage}, recvs2, sends2, {options_.timeout})->wait();
  return out;
}

}  // namespace switchyard::comm
