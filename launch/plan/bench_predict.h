// File: launch/plan/bench_predict.h
//
// Predictions of what `switchyard bench a2a` and `switchyard bench moe-layer` measure, from the
// same cost terms as a step (validation in docs/planner.md; --calibrate fits against them).
#pragma once

#include <cstdint>

#include "launch/plan/a2a_cost.h"
#include "launch/plan/cluster.pb.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

// One exchange of `bench a2a`: W ranks in nodes of G, every rank sends `bytes_per_peer` to every
// rank (itself included), EP group = the world.
ExchangeCost predict_bench_a2a(const ClusterSpec& cluster,
                               const Layout& layout,
                               A2aAlgorithm algorithm,
                               int64_t bytes_per_peer);

struct MoeLayerBench {
  int64_t tokens = 4096;  // per rank
  int64_t hidden = 256;
  int64_t ffn = 1024;
  int64_t experts = 8;
  int64_t top_k = 2;
  double capacity_factor = 0;
  double load_cv = 0.1;
};

struct MoeLayerPrediction {
  double compute_s = 0;
  CommTime comm;
  double total() const { return compute_s + comm.total(); }
};

// One forward + backward of `bench moe-layer` (float32, GELU experts, EP over the world).
MoeLayerPrediction predict_bench_moe_layer(const ClusterSpec& cluster,
                                           const Layout& layout,
                                           A2aAlgorithm algorithm,
                                           const MoeLayerBench& bench);

}  // namespace switchyard::plan
