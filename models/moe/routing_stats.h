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
  // Per-layer scalars of auxiliary methods ("erc/diag_mean", "rectify/intra_rank", ...); the same
  // names in the same order on every rank. The trainer averages them over the world.
  std::vector<std::pair<std::string, double>> extra;
};

RoutingStats compute_routing_stats(const RoutingResult& routing, const DispatchPlan& plan);

}  // namespace switchyard::models
