#include "comm/a2a/exchange_messages.h"

namespace switchyard::comm {

std::vector<TrafficCounters> flat_exchange_messages(const AllToAllLayout& layout,
                                                    const std::vector<int>& node_of,
                                                    int64_t row_bytes) {
  TrafficCounters t;
  const int me = layout.rank();
  for (int d = 0; d < layout.size(); ++d) {
    if (d == me) continue;
    t.record_send(node_of[d] == node_of[me], layout.send_counts()[d] * row_bytes);
  }
  return {t};
}

std::vector<TrafficCounters> hierarchical_exchange_messages(const AllToAllLayout& layout,
                                                            int N,
                                                            int G,
                                                            int64_t row_bytes) {
  const int r = layout.rank();
  const int n_r = r / G;
  const int l = r % G;
  auto rank_of = [G](int n, int g) { return n * G + g; };
  std::vector<TrafficCounters> phases(2);
  // Phase 1, intra-node: to local g != l, this rank's rows for (n, g) of every node n.
  for (int g = 0; g < G; ++g) {
    if (g == l) continue;
    int64_t rows = 0;
    for (int n = 0; n < N; ++n) rows += layout.count(r, rank_of(n, g));
    phases[0].record_send(true, rows * row_bytes);
  }
  // Phase 2, inter-node: to node n != n_r, the rows of every source g' of this node for (n, l).
  for (int n = 0; n < N; ++n) {
    if (n == n_r) continue;
    int64_t rows = 0;
    for (int g = 0; g < G; ++g) rows += layout.count(rank_of(n_r, g), rank_of(n, l));
    phases[1].record_send(false, rows * row_bytes);
  }
  return phases;
}

std::vector<TrafficCounters> inter_first_exchange_messages(const AllToAllLayout& layout,
                                                           int N,
                                                           int G,
                                                           int64_t row_bytes) {
  const int r = layout.rank();
  const int n_r = r / G;
  const int l = r % G;
  auto rank_of = [G](int n, int g) { return n * G + g; };
  std::vector<TrafficCounters> phases(2);
  // Phase 1, inter-node: to node n != n_r, this rank's rows for (n, g) of every local g.
  for (int n = 0; n < N; ++n) {
    if (n == n_r) continue;
    int64_t rows = 0;
    for (int g = 0; g < G; ++g) rows += layout.count(r, rank_of(n, g));
    phases[0].record_send(false, rows * row_bytes);
  }
  // Phase 2, intra-node: to local g != l, the rows of every source node n' for (n_r, g).
  for (int g = 0; g < G; ++g) {
    if (g == l) continue;
    int64_t rows = 0;
    for (int n = 0; n < N; ++n) rows += layout.count(rank_of(n, l), rank_of(n_r, g));
    phases[1].record_send(true, rows * row_bytes);
  }
  return phases;
}

std::vector<TrafficCounters> leader_exchange_messages(const AllToAllLayout& layout,
                                                      int N,
                                                      int G,
                                                      int64_t row_bytes) {
  const int r = layout.rank();
  const int n_r = r / G;
  const int l = r % G;
  auto rank_of = [G](int n, int g) { return n * G + g; };
  std::vector<TrafficCounters> phases(3);
  if (l != 0) {
    // Gather: all of this rank's rows to the leader, one message.
    phases[0].record_send(true, layout.total_send_rows() * row_bytes);
    return phases;
  }
  // Among the leaders: to node n != n_r, every row of this node for node n.
  for (int n = 0; n < N; ++n) {
    if (n == n_r) continue;
    int64_t rows = 0;
    for (int g = 0; g < G; ++g) {
      for (int gs = 0; gs < G; ++gs) rows += layout.count(rank_of(n_r, gs), rank_of(n, g));
    }
    phases[1].record_send(false, rows * row_bytes);
  }
  // Scatter: to local g != 0, every row for (n_r, g).
  for (int g = 1; g < G; ++g) {
    int64_t rows = 0;
    for (int n = 0; n < N; ++n) {
      for (int gs = 0; gs < G; ++gs) rows += layout.count(rank_of(n, gs), rank_of(n_r, g));
    }
    phases[2].record_send(true, rows * row_bytes);
  }
  return phases;
}

}  // namespace switchyard::comm
