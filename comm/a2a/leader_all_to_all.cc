#include "comm/a2a/leader_all_to_all.h"

#include <ATen/ATen.h>

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
  auto rank_of = [G](int n, int g) { return n * G + g; };
  auto cnt = [&layout](int s, int d) { return layout.count(s, d); };
  auto sent_by = [&](int s) {  // total rows rank s sends
    int64_t t = 0;
    for (int d = 0; d < P; ++d) t += cnt(s, d);
    return t;
  };
  const int64_t bytes = row_bytes(input);

  // Gather: everything to the local leader.
  std::vector<int64_t> send_g(G, 0);
  std::vector<int64_t> recv_g(G, 0);
  send_g[0] = layout.total_send_rows();
  if (leader) {
    for (int g = 0; g < G; ++g) recv_g[g] = sent_by(rank_of(n_r, g));
  }
  if (!leader) traffic_.record_send(true, send_g[0] * bytes);
  // leader: [src local g'][dst rank d]; others: [0, ...]
  const at::Tensor gathered = exchange_rows(*intra_, input, send_g, recv_g, options_.timeout);

  at::Tensor scattered_in;  // leader: [dst local g][src node n'][src local g']
  std::vector<int64_t> send_s(G, 0);
  if (leader) {
    // Reorder [src local g'][dst rank (n,g)] -> [dst node n][dst local g][src local g'].
    std::vector<int64_t> sizes;  // blocks in gathered order, index g' * P + d
    for (int gs = 0; gs < G; ++gs) {
      for (int d = 0; d < P; ++d) sizes.push_back(cnt(rank_of(n_r, gs), d));
    }
    const std::vector<int64_t> off = exclusive_prefix_sum(sizes);
    std::vector<RowBlock> blocks;
    std::vector<int64_t> send_x(N, 0);
    std::vector<int64_t> recv_x(N, 0);
    for (int n = 0; n < N; ++n) {
      for (int g = 0; g < G; ++g) {
        for (int gs = 0; gs < G; ++gs) {
          const size_t i = static_cast<size_t>(gs) * P + rank_of(n, g);
          blocks.push_back({off[i], sizes[i]});
          send_x[n] += sizes[i];
          recv_x[n] += cnt(rank_of(n, gs), rank_of(n_r, g));
        }
      }
      if (n != n_r) traffic_.record_send(false, send_x[n] * bytes);
    }
    const at::Tensor by_dst = gather_row_blocks(gathered, blocks);
    // [src node n'][dst local g][src local g'], blocks cnt[(n',g')][(n_r,g)]
    const at::Tensor exchanged = exchange_rows(*inter_, by_dst, send_x, recv_x, options_.timeout);
    // Reorder -> [dst local g][src node n'][src local g'].
    std::vector<int64_t> sizes_x;  // index (n' * G + g) * G + g'
    for (int n = 0; n < N; ++n) {
      for (int g = 0; g < G; ++g) {
        for (int gs = 0; gs < G; ++gs) sizes_x.push_back(cnt(rank_of(n, gs), rank_of(n_r, g)));
      }
    }
    const std::vector<int64_t> off_x = exclusive_prefix_sum(sizes_x);
    blocks.clear();
    for (int g = 0; g < G; ++g) {
      for (int n = 0; n < N; ++n) {
        for (int gs = 0; gs < G; ++gs) {
          const size_t i = (static_cast<size_t>(n) * G + g) * G + gs;
          blocks.push_back({off_x[i], sizes_x[i]});
          send_s[g] += sizes_x[i];
        }
      }
      if (g != 0) traffic_.record_send(true, send_s[g] * bytes);
    }
    scattered_in = gather_row_blocks(exchanged, blocks);
  } else {
    std::vector<int64_t> sizes = input.sizes().vec();
    sizes[0] = 0;
    scattered_in = at::empty(sizes, input.options());  // [0, ...]
  }
  ++traffic_.exchanges;

  // Scatter: the leader sends local g its rows; everyone receives only from the leader.
  std::vector<int64_t> recv_s(G, 0);
  recv_s[0] = layout.total_recv_rows();
  // [total_recv, ...] grouped by source rank
  at::Tensor out = exchange_rows(*intra_, scattered_in, send_s, recv_s, options_.timeout);
  return out.is_same(input) ? out.clone() : out;
}

}  // namespace switchyard::comm
