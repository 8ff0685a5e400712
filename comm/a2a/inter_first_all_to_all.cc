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

  // Phase 1: inter-node among the ranks with local index l. The input is grouped by destination
  // rank = [dst node n][dst local g], so the rows for node n are already contiguous.
  std::vector<int64_t> send1(N, 0);
  std::vector<int64_t> recv1(N, 0);
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < G; ++g) {
      send1[n] += cnt(r, rank_of(n, g));
      recv1[n] += cnt(rank_of(n, l), rank_of(n_r, g));
    }
    if (n != n_r) traffic_.record_send(false, send1[n] * bytes);
  }
  // [sum(recv1), ...] = [src node n'][dst local g], blocks cnt[(n',l)][(n_r,g)]
  const at::Tensor phase1 =
      exchange_rows(*inter_, input.contiguous(), send1, recv1, options_.timeout, &phase1_buffer_);

  // Reorder [src node n'][dst local g] -> [dst local g][src node n'].
  std::vector<int64_t> sizes1;  // block sizes in phase1 order
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < G; ++g) sizes1.push_back(cnt(rank_of(n, l), rank_of(n_r, g)));
  }
  const at::Tensor by_local = transpose_row_blocks(phase1, sizes1, N, G);

  // Phase 2: intra-node.
  std::vector<int64_t> send2(G, 0);
  std::vector<int64_t> recv2(G, 0);
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) {
      send2[g] += cnt(rank_of(n, l), rank_of(n_r, g));
      recv2[g] += cnt(rank_of(n, g), r);
    }
    if (g != l) traffic_.record_send(true, send2[g] * bytes);
  }
  ++traffic_.exchanges;
  // [total_recv, ...] = [src local g'][src node n'], blocks cnt[(n',g')][r]
  const at::Tensor phase2 =
      exchange_rows(*intra_, by_local, send2, recv2, options_.timeout, &output_);

  // Reorder [src local g'][src node n'] -> [src node n'][src local g'] (source rank order).
  std::vector<int64_t> sizes2;
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) sizes2.push_back(cnt(rank_of(n, g), r));
  }
  at::Tensor out = transpose_row_blocks(phase2, sizes2, G, N);
  return out.is_same(input) ? out.clone() : out;
}

}  // namespace switchyard::comm
