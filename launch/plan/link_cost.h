// File: launch/plan/link_cost.h
//
// Alpha-beta pricing of one phase of a collective from the messages every rank of one node
// sends in it (comm::TrafficCounters, one per rank: intra-node and inter-node message counts and
// bytes). The per-message cost alpha is paid by each rank for its own messages; the bandwidth
// term depends on who shares the link (cluster.proto Link.scope):
//   PER_RANK intra-node:  max over ranks of bytes / bw
//   PER_HOST intra-node:  host bytes / bw (every rank of the host moves its bytes through it;
//                         the host is the CPU host, cluster.proto cpu_hosts)
//   inter-node:           max(max over ranks of bytes / bw, node bytes / (nics x bw)) for
//                         PER_RANK; host bytes / (nics x bw) for PER_HOST
// Plus the link's wire latency once per phase that uses it (messages fly concurrently).
// Host bytes = the node's bytes per rank x ranks on the host. When nodes are emulated on fewer
// physical hosts, intra and inter traffic share the same memory system and add up; on real
// nodes they proceed concurrently (max).
#pragma once

#include <vector>

#include "comm/traffic.h"
#include "launch/plan/cluster.pb.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

// Seconds of a phase, split into the part spent on intra-node and on inter-node traffic.
struct CommTime {
  double intra_s = 0;
  double inter_s = 0;
  double total() const { return intra_s + inter_s; }
  CommTime& operator+=(const CommTime& o) {
    intra_s += o.intra_s;
    inter_s += o.inter_s;
    return *this;
  }
};
CommTime operator*(double f, const CommTime& t);

// One phase: node_ranks[i] = the messages of the i-th rank of one node (all nodes alike).
CommTime phase_time(const ClusterSpec& cluster,
                    const Layout& layout,
                    const std::vector<comm::TrafficCounters>& node_ranks);

// Ranks sharing one machine's cores and memory: world / cluster.cpu_hosts() (rounded up), or
// the layout's ranks per host when cpu_hosts is 0.
double ranks_per_cpu_host(const ClusterSpec& cluster, const Layout& layout);

// Bandwidth (bytes/s) one rank gets when every rank of its host uses `link` at once.
double per_rank_bandwidth(const ClusterSpec& cluster,
                          const Layout& layout,
                          const Link& link,
                          bool inter_node);

}  // namespace switchyard::plan
