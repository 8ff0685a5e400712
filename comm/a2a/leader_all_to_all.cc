#include "comm/a2a/leader_all_to_all.h"

#include <ATen/ATen.h>

#include "comm/a2a/exchange_messages.h"
#include "comm/a2a/exchange_rows.h"
#include "comm/a2a/layout_check.h"
#include "comm/a2a/row_blocks.h"
#include "comm/comm_error.h"
#include "core/check.h"

namespace switchyard::comm {

LeaderAllToAll::LeaderAllToAll(std::shared_ptr<Communicator> group,
                               std::shared_ptr<Communicator> intra_node,
                               std::shared_ptr<Communicator> inter_node,
                               AllToAllStrategyOptions options)
    : TwoLevelAllToAll(
          "leader", std::move(group), std::move(intra_node), std::move(inter_node), options) {}

at::Tensor LeaderAllToAll::exchange(const at::Tensor& input, const AllToAllLayout& layout) {
  check_layout(input, layout);
  const int N = num_nodes_;
  const int G = ranks_per_node_;
  const int P = N * G;
  const int n_r = inter_->rank();
  const int l = intra_->rank();
  const bool leader = l == 0;
  const int me = group_->rank();
  auto rank_of = [G](int n, int g) { return n * G + g; };
  auto cnt = [&layout](int s, int d) { return layout.count(s, d); };
  const int64_t bytes = row_bytes(input);
  const at::Tensor in = input.contiguous();
  const BlockOffsets off = block_offsets(layout);
  const std::vector<int64_t>& in_off = off.in;                        // [dst rank]
  const std::vector<int64_t>& out_off = off.out;                      // [src rank]
  at::Tensor out = rows_like(output_, in, layout.total_recv_rows());  // [total_recv, ...] by src

  // The leader's buffers (empty elsewhere): X = rows relayed to other nodes,
  // [dst node n != n_r][dst local g][src local g' != 0]; S = rows for this node's other ranks,
  // [dst local g != 0][src node n'][src local g'] except the leader's own rows (those leave
  // from the input). Offsets x_off[(n * G + g) * G + g'], s_off[(g * N + n') * G + g'].
  const auto idx = [G](int a, int b, int c, int B) {
    return (static_cast<size_t>(a) * B + b) * G + c;
  };
  std::vector<int64_t> x_off(static_cast<size_t>(P) * G, 0);
  std::vector<int64_t> s_off(static_cast<size_t>(P) * G, 0);
  int64_t x_rows = 0;
  int64_t s_rows = 0;
  if (leader) {
    for (int n = 0; n < N; ++n) {
      for (int g = 0; g < G; ++g) {
        for (int gs = 1; gs < G && n != n_r; ++gs) {
          x_off[idx(n, g, gs, G)] = x_rows;
          x_rows += cnt(rank_of(n_r, gs), rank_of(n, g));
        }
      }
    }
    for (int g = 1; g < G; ++g) {
      for (int n = 0; n < N; ++n) {
        for (int gs = 0; gs < G; ++gs) {
          if (n == n_r && gs == 0) continue;
          s_off[idx(g, n, gs, N)] = s_rows;
          s_rows += cnt(rank_of(n, gs), rank_of(n_r, g));
        }
      }
    }
  }
  at::Tensor x = rows_like(x_buffer_, in, x_rows);   // [x_rows, ...]
  at::Tensor sc = rows_like(s_buffer_, in, s_rows);  // [s_rows, ...]

  // Gather: every other local rank sends the leader its rows, one block per destination rank;
  // the leader puts each where it leaves from (X, S) or ends (its own output).
  std::vector<BlockTransfer> sends;
  std::vector<BlockTransfer> recvs;
  if (!leader) {
    for (int d = 0; d < P; ++d) sends.push_back({0, 0, in_off[d], cnt(me, d)});
  } else {
    for (int gs = 1; gs < G; ++gs) {
      const int s = rank_of(n_r, gs);
      for (int d = 0; d < P; ++d) {
        const int n = d / G;
        const int g = d % G;
        if (d == me) {
          recvs.push_back({gs, 0, out_off[s], cnt(s, d)});
        } else if (n == n_r) {
          recvs.push_back({gs, 2, s_off[idx(g, n_r, gs, N)], cnt(s, d)});
        } else {
          recvs.push_back({gs, 1, x_off[idx(n, g, gs, G)], cnt(s, d)});
        }
      }
    }
    sends.push_back({0, 0, in_off[me], cnt(me, me)});  // the leader's rows for itself
    recvs.insert(recvs.begin(), BlockTransfer{0, 0, out_off[me], cnt(me, me)});
  }
  // in: [total_send, ...]; outs: output, X, S (the leader's)
  intra_->exchange_blocks({out, x, sc}, {in}, recvs, sends, {options_.timeout})->wait();

  if (leader) {
    // Exchange among the leaders: to node n, [dst local g][src local g'] blocks (the leader's
    // own from the input, the others from X); from node n', the same order: the blocks for
    // the leader itself into its output, the others into S.
    sends.clear();
    recvs.clear();
    for (int n = 0; n < N; ++n) {
      if (n == n_r) continue;
      for (int g = 0; g < G; ++g) {
        for (int gs = 0; gs < G; ++gs) {
          const int64_t rows = cnt(rank_of(n_r, gs), rank_of(n, g));
          sends.push_back(gs == 0 ? BlockTransfer{n, 0, in_off[rank_of(n, g)], rows}
                                  : BlockTransfer{n, 1, x_off[idx(n, g, gs, G)], rows});
          const int s = rank_of(n, gs);
          const int64_t in_rows = cnt(s, rank_of(n_r, g));
          recvs.push_back(g == 0 ? BlockTransfer{n, 0, out_off[s], in_rows}
                                 : BlockTransfer{n, 1, s_off[idx(g, n, gs, N)], in_rows});
        }
      }
    }
    // ins: input, X; outs: output, S
    inter_->exchange_blocks({out, sc}, {in, x}, recvs, sends, {options_.timeout})->wait();
  }
  // One message per peer and phase (the logical exchange), as exchange_messages.h defines them.
  for (const TrafficCounters& t : leader_exchange_messages(layout, N, G, bytes)) traffic_ += t;
  ++traffic_.exchanges;

  // Scatter: the leader sends local g its rows in source-rank order (its own from the input,
  // the rest from S); every other rank receives them into its output.
  sends.clear();
  recvs.clear();
  if (!leader) {
    for (int s = 0; s < P; ++s) recvs.push_back({0, 0, out_off[s], cnt(s, me)});
  } else {
    for (int g = 1; g < G; ++g) {
      for (int n = 0; n < N; ++n) {
        for (int gs = 0; gs < G; ++gs) {
          const int64_t rows = cnt(rank_of(n, gs), rank_of(n_r, g));
          sends.push_back(n == n_r && gs == 0 ? BlockTransfer{g, 0, in_off[rank_of(n_r, g)], rows}
                                              : BlockTransfer{g, 1, s_off[idx(g, n, gs, N)], rows});
        }
      }
    }
  }
  // ins: input, S; out: [total_recv, ...] grouped by source rank
  intra_->exchange_blocks({out}, {in, sc}, recvs, sends, {options_.timeout})->wait();
  return out;
}

}  // namespace switchyard::comm
