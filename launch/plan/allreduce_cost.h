// File: launch/plan/allreduce_cost.h
//
// Gradient all-reduce of B bytes over a group of n ranks (dense gradients over the world,
// expert gradients over the expert-data group of W / P ranks), alpha-beta:
//   ring:          2 (n - 1) alpha + 2 (n - 1) / n x B / bw
//   hierarchical:  reduce-scatter and all-gather in the node (G ranks), ring over the n / G
//                  nodes on B / G per rank: 2 [(G - 1) alpha_i + (G - 1) / G x B / bw_i]
//                  + 2 (n/G - 1) alpha_e + 2 (n/G - 1) / (n/G) x (B / G) / bw_e
// bw = the bandwidth one rank gets while every rank of its host all-reduces at once
// (link_cost.h per_rank_bandwidth); a ring spanning nodes runs at the slower of the intra-node
// and the node's NIC bandwidth per rank. The prediction takes the faster of the two.
#pragma once

#include "launch/plan/cluster.pb.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

struct AllReduceTime {
  double ring_s = 0;
  double hierarchical_s = 0;
  double best() const;
};

// `group` ranks, `spans_nodes`: the group crosses nodes (its ranks are spread one or more per
// node, ranks_per_node_in_group of them on each node).
AllReduceTime allreduce_time(const ClusterSpec& cluster,
                             const Layout& layout,
                             double bytes,
                             int group,
                             int ranks_per_node_in_group);

}  // namespace switchyard::plan
