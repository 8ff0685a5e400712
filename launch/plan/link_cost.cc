#include "launch/plan/link_cost.h"

#include <algorithm>

namespace switchyard::plan {

CommTime operator*(double f, const CommTime& t) { return {f * t.intra_s, f * t.inter_s}; }

double ranks_per_cpu_host(const ClusterSpec& cluster, const Layout& layout) {
  if (cluster.cpu_hosts() <= 0) return layout.ranks_per_host();
  return (layout.world + cluster.cpu_hosts() - 1) / cluster.cpu_hosts();
}

double per_rank_bandwidth(const ClusterSpec& cluster,
                          const Layout& layout,
                          const Link& link,
                          bool inter_node) {
  const double bw = link.bandwidth_gbps() * 1e9;
  const double nics = inter_node ? cluster.nics_per_node() : 1;
  if (link.scope() == Link::PER_HOST) {
    return nics * bw / (inter_node ? layout.ranks_per_host() : ranks_per_cpu_host(cluster, layout));
  }
  if (!inter_node) return bw;
  return std::min(bw, nics * bw / layout.ranks_per_node);
}

CommTime phase_time(const ClusterSpec& cluster,
                    const Layout& layout,
                    const std::vector<comm::TrafficCounters>& node_ranks) {
  if (node_ranks.empty()) return {};
  const Link& intra = cluster.intra_node();
  const Link& inter = cluster.inter_node();
  const double bw_i = intra.bandwidth_gbps() * 1e9;
  const double bw_e = inter.bandwidth_gbps() * 1e9 * cluster.nics_per_node();  // node's NICs
  double lat_i = 0, lat_e = 0, max_bytes_i = 0, max_bytes_e = 0, sum_i = 0, sum_e = 0;
  bool any = false;
  for (const comm::TrafficCounters& t : node_ranks) {
    any = any || t.intra_node_messages > 0 || t.inter_node_messages > 0;
    lat_i = std::max(lat_i, t.intra_node_messages * intra.latency_us() * 1e-6);
    lat_e = std::max(lat_e, t.inter_node_messages * inter.latency_us() * 1e-6);
    max_bytes_i = std::max(max_bytes_i, static_cast<double>(t.intra_node_bytes));
    max_bytes_e = std::max(max_bytes_e, static_cast<double>(t.inter_node_bytes));
    sum_i += static_cast<double>(t.intra_node_bytes);
    sum_e += static_cast<double>(t.inter_node_bytes);
  }
  if (!any) return {};
  const double per_rank_i = sum_i / node_ranks.size();
  const double per_rank_e = sum_e / node_ranks.size();
  const double host_ranks = layout.ranks_per_host();
  const double t_i = intra.scope() == Link::PER_HOST
                         ? per_rank_i * ranks_per_cpu_host(cluster, layout) / bw_i
                         : max_bytes_i / bw_i;
  double t_e = 0;
  if (inter.scope() == Link::PER_HOST) {
    t_e = per_rank_e * host_ranks / bw_e;
  } else {
    // Each rank at most one NIC's rate; the node's ranks together at most all NICs'.
    t_e = std::max(max_bytes_e / (inter.bandwidth_gbps() * 1e9), sum_e / bw_e);
  }
  const bool shared_host = layout.hosts() < layout.nodes();
  CommTime out;
  const double overhead = cluster.phase_overhead_us() * 1e-6;
  double wire_i = 0, wire_e = 0;
  for (const comm::TrafficCounters& t : node_ranks) {
    if (t.intra_node_messages > 0) wire_i = intra.wire_latency_us() * 1e-6;
    if (t.inter_node_messages > 0) wire_e = inter.wire_latency_us() * 1e-6;
  }
  const double part_i = lat_i + t_i + wire_i;
  const double part_e = lat_e + t_e + wire_e;
  const double total = shared_host ? part_i + part_e : std::max(part_i, part_e);
  const double sum = part_i + part_e;
  out.intra_s = sum > 0 ? total * part_i / sum : 0;
  out.inter_s = sum > 0 ? total * part_e / sum : 0;
  // The fixed cost goes to the link class the phase uses most.
  (part_e > part_i ? out.inter_s : out.intra_s) += overhead;
  return out;
}

}  // namespace switchyard::plan
