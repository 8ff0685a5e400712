#include "comm/a2a/hierarchical_all_to_all.h"

#include <ATen/ATen.h>

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

  // Reorder [dst node n][dst local g] -> [dst local g][dst node n]; [total_send, ...].
  const at::Tensor by_local = transpose_row_blocks(input, layout.send_counts(), N, G);

  // Phase 1: intra-node.
  std::vector<int64_t> send1(G, 0);
  std::vector<int64_t> recv1(G, 0);
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) {
      send1[g] += cnt(r, rank_of(n, g));
      recv1[g] += cnt(rank_of(n_r, g), rank_of(n, l));
    }
    if (g != l) traffic_.record_send(true, send1[g] * bytes);
  }
  // [sum(recv1), ...] = [src local g'][dst node n], blocks cnt[(n_r,g')][(n,l)]
  const at::Tensor phase1 =
      exchange_rows(*intra_, by_local, send1, recv1, options_.timeout, &phase1_buffer_);

  // Reorder [src local g'][dst node n] -> [dst node n][src local g'].
  std::vector<int64_t> sizes1;  // block sizes in phase1 order
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) sizes1.push_back(cnt(rank_of(n_r, g), rank_of(n, l)));
  }
  const at::Tensor by_node = transpose_row_blocks(phase1, sizes1, G, N);

  // Phase 2: inter-node among the ranks with local index l.
  std::vector<int64_t> send2(N, 0);
  std::vector<int64_t> recv2(N, 0);
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < G; ++g) {
      send2[n] += cnt(rank_of(n_r, g), rank_of(n, l));
      recv2[n] += cnt(rank_of(n, g), r);
    }
    if (n != n_r) traffic_.record_send(false, send2[n] * bytes);
  }
  ++traffic_.exchanges;
  // [total_recv, ...] = [src node n'][src local g'] = grouped by source rank
  at::Tensor out = exchange_rows(*inter_, by_node, send2, recv2, options_.timeout, &output_);
  return out.is_same(input) ? out.clone() : out;
}

}  // namespace switchyard::comm
