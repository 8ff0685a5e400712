#include "comm/a2a/hierarchical_all_to_all.h"

#include <ATen/ATen.h>

#include "comm/a2a/exchange_messages.h"
#include "comm/a2a/exchange_rows.h"
#include "comm/a2a/layout_check.h"
#include "comm/a2a/row_blocks.h"
#include "comm/comm_error.h"
#include "core/check.h"

namespace switchyard::comm {

HierarchicalAllToAll::HierarchicalAllToAll(std::shared_ptr<Communicator> group,
                                           std::shared_ptr<Communicator> intra_node,
                                           std::shared_ptr<Communicator> inter_node,
                                           AllToAllStrategyOptions options)
    : TwoLevelAllToAll(
          "hierarchical", std::move(group), std::move(intra_node), std::move(inter_node), options) {
}

at::Tensor HierarchicalAllToAll::exchange(const at::Tensor& input, const AllToAllLayout& layout) {
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
  // Stage: rows relayed by this rank, [dst node n != n_r][src local g' != l], blocks
  // cnt[(n_r,g')][(n,l)]; stage_off[n * G + g'].
  int64_t stage_rows = 0;
  const std::vector<int64_t> stage_off = grid_offsets(
      N, G, [&](int n, int g) { return n == n_r || g == l; },
      [&](int n, int g) { return cnt(rank_of(n_r, g), rank_of(n, l)); }, &stage_rows);
  at::Tensor out = rows_like(output_, in, layout.total_recv_rows());  // [total_recv, ...] by src
  at::Tensor stage = rows_like(phase1_buffer_, in, stage_rows);       // [stage_rows, ...]

  // Phase 1, intra-node: to local g, the blocks for (n, g) of every node n, straight from the
  // input, in node order; from local g', the blocks for (n, l): this node's into the output,
  // the others' into the stage. This rank's own blocks for other nodes stay in the input
  // (phase 2 sends them from there); its block for itself is the one copy.
  std::vector<BlockTransfer> sends1;
  std::vector<BlockTransfer> recvs1;
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) {
      const int d = rank_of(n, g);
      if (g == l && n != n_r) continue;  // own rows for other nodes: sent in phase 2
      sends1.push_back({g, 0, in_off[d], cnt(r, d)});
      const int s = rank_of(n_r, g);
      const int64_t rows = cnt(s, rank_of(n, l));
      recvs1.push_back(n == n_r
                           ? BlockTransfer{g, 0, out_off[s], rows}
                           : BlockTransfer{g, 1, stage_off[static_cast<size_t>(n) * G + g], rows});
    }
  }
  // in: [total_send, ...]; out: [total_recv, ...] (this node's sources), stage
  intra_->exchange_blocks({out, stage}, {in}, recvs1, sends1, {options_.timeout})->wait();

  // Phase 2, inter-node among the ranks with local index l: to node n, the rows of every
  // source g' of this node for (n, l), in source order (own rows from the input, relayed rows
  // from the stage); from node n', its sources' rows for this rank, straight into the output.
  std::vector<BlockTransfer> sends2;
  std::vector<BlockTransfer> recvs2;
  for (int n = 0; n < N; ++n) {
    if (n == n_r) continue;
    for (int g = 0; g < G; ++g) {
      const int64_t rows = cnt(rank_of(n_r, g), rank_of(n, l));
      sends2.push_back(g == l
                           ? BlockTransfer{n, 0, in_off[rank_of(n, l)], rows}
                           : BlockTransfer{n, 1, stage_off[static_cast<size_t>(n) * G + g], rows});
      const int s = rank_of(n, g);
      recvs2.push_back({n, 0, out_off[s], cnt(s, r)});
    }
  }
  // One message per peer and phase (the logical exchange), as exchange_messages.h defines them.
  for (const TrafficCounters& t : hierarchical_exchange_messages(layout, N, G, bytes)) {
    traffic_ += t;
  }
  ++traffic_.exchanges;
  // in: input, stage; out: [total_recv, ...] grouped by source rank
  inter_->exchange_blocks({out}, {in, stage}, recvs2, sends2, {options_.timeout})->wait();
  return out;
}

}  // namespace switchyard::comm
