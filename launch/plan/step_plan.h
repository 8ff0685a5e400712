// File: launch/plan/step_plan.h
//
// One training step priced for a candidate layout (EP size, all-to-all algorithm, capacity
// factor), the enumeration of candidates and the recommendation. Step time =
//   compute (compute_cost.h) + MoE exchanges and count exchanges (a2a_cost.h)
//   + gradient all-reduce (allreduce_cost.h: dense over the world, experts over W / P)
//   + optimizer (AdamW reads and writes 28 B per local parameter at memory bandwidth)
// with no overlap (the trainer overlaps none of them today).
#pragma once

#include <string>
#include <vector>

#include "launch/plan/a2a_cost.h"
#include "launch/plan/cluster.pb.h"
#include "launch/plan/compute_cost.h"
#include "launch/plan/memory_cost.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

struct StepPrediction {
  Layout layout;
  A2aAlgorithm algorithm = A2aAlgorithm::kFlat;
  double capacity_factor = 0;
  ComputeTime compute;
  CommTime a2a;                     // all MoE layers' exchanges (+ count exchanges)
  double a2a_exchange_s = 0;        // one dispatch exchange of one layer
  double inter_bytes_per_rank = 0;  // MoE exchanges, all layers
  double allreduce_s = 0;
  double optimizer_s = 0;
  double step_s = 0;
  double tokens_per_s = 0;
  MemoryBytes memory;
  double memory_limit = 0;  // bytes
  bool fits = true;
};

StepPrediction predict_step(const ClusterSpec& cluster,
                            const ModelShape& model,
                            const Layout& layout,
                            A2aAlgorithm algorithm);

// Every EP size P that divides W and E, every algorithm that applies, and capacity factors
// {the experiment's, 0 (dropless), 1.25}; sorted by predicted step time.
std::vector<StepPrediction> plan_candidates(const ClusterSpec& cluster,
                                            const ModelShape& model,
                                            int world,
                                            int ranks_per_node,
                                            int physical_hosts);

struct Recommendation {
  int index = -1;      // into the candidates; -1: nothing fits
  std::string reason;  // one line
};
// The fastest candidate that fits among those with the experiment's capacity factor (the
// others change which tokens are dropped, i.e. the training itself, so they are shown only).
Recommendation recommend(const std::vector<StepPrediction>& candidates, double capacity_factor);

}  // namespace switchyard::plan
