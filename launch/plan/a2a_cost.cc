#include "launch/plan/a2a_cost.h"

#include <algorithm>
#include <cmath>

#include "comm/a2a/exchange_messages.h"
#include "comm/all_to_all.h"

namespace switchyard::plan {
namespace {

// Expected byte matrix [P * P] (see the header).
std::vector<int64_t> expected_matrix(int P, int G, double bytes_per_rank, double f) {
  std::vector<int64_t> m(static_cast<size_t>(P) * P);
  const double local = G >= P ? bytes_per_rank / P : bytes_per_rank * (1 - f) / G;
  const double remote = P > G ? bytes_per_rank * f / (P - G) : 0;
  for (int s = 0; s < P; ++s) {
    for (int d = 0; d < P; ++d) {
      m[static_cast<size_t>(s) * P + d] = std::llround(s / G == d / G ? local : remote);
    }
  }
  return m;
}

// The messages per phase of each rank of node 0 of an exchange over `P` ranks in nodes of `G`,
// counts in bytes (row_bytes 1).
std::vector<std::vector<comm::TrafficCounters>> node0_messages(A2aAlgorithm algorithm,
                                                               int P,
                                                               int G,
                                                               const std::vector<int64_t>& m) {
  const int N = std::max(1, P / G);
  std::vector<int> node_of(P);
  for (int d = 0; d < P; ++d) node_of[d] = d / G;
  std::vector<std::vector<comm::TrafficCounters>> out;  // [rank of node 0][phase]
  for (int r = 0; r < std::min(G, P); ++r) {
    const comm::AllToAllLayout layout = comm::AllToAllLayout::from_count_matrix(r, P, m);
    switch (algorithm) {
      case A2aAlgorithm::kFlat:
      case A2aAlgorithm::kHierarchicalDedup:
        out.push_back(comm::flat_exchange_messages(layout, node_of, 1));
        break;
      case A2aAlgorithm::kHierarchical:
        out.push_back(comm::hierarchical_exchange_messages(layout, N, G, 1));
        break;
      case A2aAlgorithm::kLeader:
        out.push_back(comm::leader_exchange_messages(layout, N, G, 1));
        break;
    }
  }
  return out;
}

ExchangeCost price(const ClusterSpec& cluster,
                   const Layout& layout,
                   const std::vector<std::vector<comm::TrafficCounters>>& msgs) {
  ExchangeCost cost;
  const size_t phases = msgs.empty() ? 0 : msgs[0].size();
  for (size_t p = 0; p < phases; ++p) {
    std::vector<comm::TrafficCounters> node;
    for (const auto& rank : msgs) node.push_back(rank[p]);
    cost.time += phase_time(cluster, layout, node);
    cost.rank0_phases.push_back(msgs[0][p]);
    cost.rank0_total += msgs[0][p];
  }
  return cost;
}

void append(ExchangeCost* to, const ExchangeCost& from) {
  to->time += from.time;
  to->rank0_phases.insert(to->rank0_phases.end(), from.rank0_phases.begin(),
                          from.rank0_phases.end());
  to->rank0_total += from.rank0_total;
}

double choose(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  double c = 1;
  for (int64_t i = 1; i <= k; ++i) c = c * static_cast<double>(n - k + i) / static_cast<double>(i);
  return c;
}

}  // namespace

std::string a2a_name(A2aAlgorithm algorithm) {
  switch (algorithm) {
    case A2aAlgorithm::kFlat:
      return "flat";
    case A2aAlgorithm::kHierarchical:
      return "hierarchical";
    case A2aAlgorithm::kLeader:
      return "leader";
    case A2aAlgorithm::kHierarchicalDedup:
      return "hier+dedup";
  }
  return "?";
}

bool a2a_applies(A2aAlgorithm algorithm, const Layout& l) {
  const bool contiguous = l.ep % l.ranks_per_node == 0 || l.ranks_per_node % l.ep == 0;
  switch (algorithm) {
    case A2aAlgorithm::kFlat:
      return true;
    case A2aAlgorithm::kHierarchical:
    case A2aAlgorithm::kLeader:
      return contiguous && l.ep_nodes() >= 2 && l.ep_ranks_per_node() >= 2;
    case A2aAlgorithm::kHierarchicalDedup:
      return contiguous && l.ep_nodes() >= 2 && l.ep_ranks_per_node() >= 2;
  }
  return false;
}

double prob_any_in_group(int64_t experts, int64_t group, int64_t top_k) {
  const double all = choose(experts, top_k);
  return all > 0 ? 1.0 - choose(experts - group, top_k) / all : 0;
}

ExchangeCost exchange_cost(const ClusterSpec& cluster,
                           const Layout& layout,
                           A2aAlgorithm algorithm,
                           double rows,
                           double row_bytes,
                           double inter_node_fraction) {
  const int P = layout.ep;
  const int G = layout.ep_ranks_per_node();
  const double f = inter_node_fraction >= 0 ? inter_node_fraction : static_cast<double>(P - G) / P;
  const std::vector<int64_t> m = expected_matrix(P, G, rows * row_bytes, f);
  return price(cluster, layout, node0_messages(algorithm, P, G, m));
}

MoeLayerComm moe_layer_comm(const ClusterSpec& cluster,
                            const Layout& layout,
                            const ModelShape& model,
                            A2aAlgorithm algorithm) {
  MoeLayerComm out;
  const int P = layout.ep;
  if (P <= 1) return out;
  const int N = layout.ep_nodes();
  const int G = layout.ep_ranks_per_node();
  const double kept =
      model.capacity_factor > 0 ? std::min(1.0, static_cast<double>(model.capacity_factor)) : 1.0;
  const double tokens = tokens_per_rank(model, layout);
  const double rows = tokens * static_cast<double>(model.top_k) * kept;
  const double row_bytes = static_cast<double>(model.hidden * model.act_bytes);
  if (algorithm != A2aAlgorithm::kHierarchicalDedup) {
    // The share of rows leaving the node: given, or uniform routing's scaled by the locality.
    const double uniform_f = static_cast<double>(P - G) / P;
    const double f = model.inter_node_fraction >= 0
                         ? model.inter_node_fraction
                         : std::min(1.0, model.inter_node_locality * uniform_f);
    out.dispatch = exchange_cost(cluster, layout, algorithm, rows, row_bytes, f);
    out.a2a = 4.0 * out.dispatch.time;
    out.inter_bytes_per_rank = 4.0 * static_cast<double>(out.dispatch.rank0_total.inter_node_bytes);
  } else {
    // Phase A: over the N ranks with local index l (each its own node), rows per token and node.
    const int64_t E = model.experts;
    const int64_t e_node = E / N;
    const int64_t e_rank = E / P;
    const double p_node = model.distinct_remote_nodes >= 0 && N > 1
                              ? model.distinct_remote_nodes / (N - 1)
                              : std::min(1.0, model.remote_nodes_locality *
                                                  prob_any_in_group(E, e_node, model.top_k));
    const double p_rank = prob_any_in_group(E, e_rank, model.top_k);
    const double meta_a = 8.0 * static_cast<double>(e_node);  // weights + mask, float32
    const double meta_b = 8.0 * static_cast<double>(e_rank);
    // Phase A: a flat exchange over the N ranks with local index l (one per node; every
    // message inter-node), tokens x p_node rows to each node. Phase B: a flat exchange over the
    // G ranks of the node; the relay holds N x tokens x p_node rows and sends each to every rank
    // of the node with >= 1 assigned expert: N x tokens x p_rank rows per destination rank.
    // All G ranks of a node run their phase A at once, so node 0's ranks are G copies.
    auto group_phase = [&](int size, bool across_nodes, double bytes_per_peer) {
      std::vector<int64_t> m(static_cast<size_t>(size) * size, std::llround(bytes_per_peer));
      std::vector<int> node_of(size, 0);
      if (across_nodes) {
        for (int i = 0; i < size; ++i) node_of[i] = i;
      }
      const comm::AllToAllLayout one = comm::AllToAllLayout::from_count_matrix(0, size, m);
      const std::vector<comm::TrafficCounters> msgs = comm::flat_exchange_messages(one, node_of, 1);
      return price(cluster, layout, std::vector<std::vector<comm::TrafficCounters>>(G, msgs));
    };
    // BF16 payload: the metadata travels as a separate float32 exchange (twice the messages).
    auto one_direction = [&](bool with_meta) {
      ExchangeCost c;
      const bool fused = with_meta && model.act_bytes == 4;
      append(&c, group_phase(N, true, tokens * p_node * (row_bytes + (fused ? meta_a : 0))));
      append(&c, group_phase(G, false, N * tokens * p_rank * (row_bytes + (fused ? meta_b : 0))));
      if (with_meta && !fused) {
        append(&c, group_phase(N, true, tokens * p_node * meta_a));
        append(&c, group_phase(G, false, N * tokens * p_rank * meta_b));
      }
      return c;
    };
    out.dispatch = one_direction(true);
    const ExchangeCost combine = one_direction(false);
    out.a2a = out.dispatch.time;
    out.a2a += combine.time;
    out.a2a = 2.0 * out.a2a;  // backward repeats both, transposed
    out.inter_bytes_per_rank = 2.0 * static_cast<double>(out.dispatch.rank0_total.inter_node_bytes +
                                                         combine.rank0_total.inter_node_bytes);
  }
  // Count exchange: an all-gather of [E] int64 (dedup: [N + P]) over the EP group, recursive
  // doubling: ceil(log2 P) latencies and (P - 1) x the vector's bytes.
  const double vec = 8.0 * (algorithm == A2aAlgorithm::kHierarchicalDedup ? N + P : model.experts);
  const bool spans = N > 1;
  const Link& link = spans ? cluster.inter_node() : cluster.intra_node();
  const double t = std::ceil(std::log2(static_cast<double>(P))) * link.latency_us() * 1e-6 +
                   (P - 1) * vec / per_rank_bandwidth(cluster, layout, link, spans);
  (spans ? out.count_exchange.inter_s : out.count_exchange.intra_s) = t;
  return out;
}

}  // namespace switchyard::plan
