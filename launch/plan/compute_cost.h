// File: launch/plan/compute_cost.h
//
// Compute time of one rank in one step (forward + backward = 3x the forward's GEMM FLOPs), each
// GEMM priced by the roofline
//   t(m, n, k) = max(2 m n k / F, (m k + k n + m n) b / B)
// with F the rank's GEMM throughput for the dtype and B its memory bandwidth (a host's figures
// divided by its ranks when compute_shared_by_host). Experts: the busiest rank computes
// rows = tokens x k x imbalance, split over its E / P experts, imbalance = 1 + load_cv
// (dropless) or min(1 + load_cv, capacity_factor). Element-wise work (norms, activations,
// softmax, residuals, the dispatch's gathers and scatters) is priced as passes over memory:
// kElementwisePasses x T x H per block and kDispatchPasses x T x k x H per MoE layer.
#pragma once

#include "launch/plan/cluster.pb.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

inline constexpr double kElementwisePasses = 40;  // per block, forward + backward (assumed)
inline constexpr double kDispatchPasses = 12;     // per MoE layer, forward + backward (assumed)

struct RankDevice {
  double flops = 0;        // GEMM FLOP/s of one rank
  double bytes_per_s = 0;  // memory bandwidth of one rank
};
RankDevice rank_device(const ClusterSpec& cluster, const Layout& layout, const ModelShape& model);

// Roofline time of one [m, k] x [k, n] GEMM, elements of `bytes` bytes.
double gemm_seconds(double m, double n, double k, double bytes, const RankDevice& device);

// Expert load factor of the busiest rank (see above).
double expert_imbalance(const ModelShape& model);

struct ComputeTime {
  double dense_s = 0;        // attention, dense FFNs, LM head (forward + backward)
  double router_s = 0;       // router GEMMs of the MoE layers
  double expert_s = 0;       // expert GEMMs of the MoE layers
  double elementwise_s = 0;  // memory-bound passes
  double total() const { return dense_s + router_s + expert_s + elementwise_s; }
};

// One MoE layer, forward + backward, at T = tokens per rank (what `bench moe-layer` times,
// without its exchanges).
ComputeTime moe_layer_compute(const ClusterSpec& cluster,
                              const Layout& layout,
                              const ModelShape& model);

// The whole step.
ComputeTime step_compute(const ClusterSpec& cluster, const Layout& layout, const ModelShape& model);

}  // namespace switchyard::plan
