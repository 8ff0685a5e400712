// File: models/moe/routing_stats.h
//
// Per-layer routing statistics of one forward, for metrics (host values, no gradient). Loads are
// counted over this rank's tokens; the trainer reduces them across ranks if it wants global ones.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/moe/dispatch_plan.h"
#include "models/moe/router.h"

namespace switchyard::models {

struct RoutingStats {
  std::vector<int64_t> tokens_per_expert;  // [E] assignments selected by the router
  std::vector<int64_t> kept_per_expert;    // [E] assignments kept after capacity
  int64_t num_tokens = 0;
  double dropped_fraction = 0.0;  // dropped / selected assignments
  double router_entropy = 0.0;    // mean over tokens of -sum_e p log p (nats), p normalized scores
  double max_load = 0.0;          // max over experts of tokens_per_expert
  double mean_load = 0.0;         // mean over experts of tokens_per_expert
  double coefficient_of_variation = 0.0;  // population std / mean of tokens_per_expert
  // Kept (dispatched) rows, and those whose expert lives on another node than the token's rank
  // (count_cross_node_rows); their ratio is the layer's inter-node share of dispatched rows.
  int64_t dispatched_rows = 0;
  int64_t cross_node_rows = 0;
  // Inter-node rows and payload bytes of this forward's dispatch (its combine and the two
  // backward exchanges move as many): what the layer's dispatcher sent (node dedup: one row per
  // token and remote node, with its metadata), and what one row per kept cross-node assignment
  // (flat and hierarchical all-to-all: cross_node_rows) sends.
  int64_t inter_node_rows = 0;
  int64_t inter_node_bytes = 0;
  int64_t inter_node_bytes_without_dedup = 0;
  // Router-reported host scalars (RoutingResult::metrics).
  std::vector<std::pair<std::string, double>> router_metrics;
};

RoutingStats compute_routing_stats(const RoutingResult& routing, const DispatchPlan& plan);

// Fills stats->dispatched_rows / cross_node_rows: a kept row crosses nodes when its expert's node
// (expert / (E / num_nodes), node-contiguous experts) differs from group_nodes[g] of its token's
// routing group g (group_sizes; empty = one group; group_nodes empty = node 0).
void count_cross_node_rows(const DispatchPlan& plan,
                           const std::vector<int64_t>& group_sizes,
                           const std::vector<int64_t>& group_nodes,
                           int64_t num_nodes,
                           RoutingStats* stats);

}  // namespace switchyard::models
