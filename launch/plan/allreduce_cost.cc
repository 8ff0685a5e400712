#include "launch/plan/allreduce_cost.h"

#include <algorithm>

#include "launch/plan/link_cost.h"

namespace switchyard::plan {

double AllReduceTime::best() const {
  return hierarchical_s > 0 ? std::min(ring_s, hierarchical_s) : ring_s;
}

AllReduceTime allreduce_time(
    const ClusterSpec& cluster, const Layout& layout, double bytes, int n, int g) {
  AllReduceTime t;
  if (n <= 1 || bytes <= 0) return t;
  g = std::max(1, std::min(g, n));
  const Link& intra = cluster.intra_node();
  const Link& inter = cluster.inter_node();
  const double bw_i = per_rank_bandwidth(cluster, layout, intra, false);
  const double bw_e = per_rank_bandwidth(cluster, layout, inter, true);
  const bool spans = n > g;
  const double alpha = (spans ? inter.latency_us() : intra.latency_us()) * 1e-6;
  const double bw = spans ? std::min(bw_i, bw_e * g) : bw_i;
  t.ring_s = 2.0 * (n - 1) * alpha + 2.0 * (n - 1) / n * bytes / bw;
  if (spans && g > 1) {
    const double nodes = static_cast<double>(n) / g;
    t.hierarchical_s = 2 * ((g - 1) * intra.latency_us() * 1e-6 + (g - 1.0) / g * bytes / bw_i) +
                       2 * (nodes - 1) * inter.latency_us() * 1e-6 +
                       2 * (nodes - 1) / nodes * (bytes / g) / bw_e;
  }
  return t;
}

}  // namespace switchyard::plan
