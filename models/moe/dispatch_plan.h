// File: models/moe/dispatch_plan.h
//
// DispatchPlan: which assignments survive (capacity and drop policy) and where every kept row
// goes. Local computation only; the dispatchers add the communication.
//
// Semantics (ALGORITHMS.md §0, §7.7):
//   * Dropless (capacity_factor == 0): every non-empty assignment is kept.
//   * Capacity (capacity_factor > 0): per routing group g of T_g tokens, each expert keeps at
//     most C_g = expert_capacity(cf, T_g, k, E, min_capacity) assignments, chosen by priority:
//       kPosition  running order over the flattened group, all first choices (slot 0) before any
//                  second choice, tokens in order (fairseq/DeepSpeed/Tutel);
//       kProbs     highest routing probability first (Megatron drop_policy="probs"), ties by
//                  position;
//       kRandom    uniform random priority per assignment (DeepSpeed random token selection),
//                  drawn from the routing seed for the global batch and sliced (router_noise.h).
//   * A dropped assignment contributes zero to the output (the residual carries the token).
//   * Kept rows are grouped by expert; within an expert in token order, then slot order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/moe/rectify.h"
#include "models/moe/router.h"

namespace switchyard::models {

enum class DropPolicy { kPosition, kProbs, kRandom };

struct CapacityOptions {
  double capacity_factor = 0.0;  // 0 = dropless
  int64_t min_capacity = 0;
  DropPolicy drop_policy = DropPolicy::kPosition;
  int64_t top_k = 1;  // k of the capacity formula
  // Rectify-Router (capacity_factor > 0 only).
  RectifyOptions rectify;
};

struct DispatchPlan {
  int64_t num_tokens = 0;
  int64_t num_experts = 0;
  at::Tensor token_index;  // [N] int64: token of each kept row, grouped by expert
  at::Tensor weights;      // [N] float32 combine weight of each kept row (differentiable)
  at::Tensor keep;         // [T, K] bool: assignments that survive
  std::vector<int64_t> tokens_per_expert;    // [E] kept rows per expert (host)
  std::vector<int64_t> selected_per_expert;  // [E] non-empty assignments before capacity (host)
  std::vector<int64_t> capacities;           // [G] per capacity group (empty when dropless)
  int64_t num_selected = 0;
  int64_t num_dropped = 0;
  // Rectify-Router: the IR and FR expert of every token and their counts; set only when
  // rectification ran (capacity_factor > 0 and rectify enabled). Kept rows include these
  // assignments.
  std::optional<RectifiedAssignments> rectified;
};

// routing: the router's result for the T local tokens. capacity_groups: consecutive groups of
// the local tokens for capacity (empty = one group). context: seed and global row offset for the
// random priority. Host sync: the per-expert counts.
DispatchPlan make_dispatch_plan(const RoutingResult& routing,
                                int64_t num_experts,
                                const CapacityOptions& capacity,
                                const std::vector<int64_t>& capacity_groups,
                                const RoutingContext& context);

// The capacity options of one call: the layer's, with the capacity factor the router asked for
// (RoutingResult::capacity_factor: a floor, or a replacement) when the layer is capacity-limited.
// Dropless layers (capacity_factor == 0) stay dropless.
CapacityOptions effective_capacity(const CapacityOptions& layer, const RoutingResult& routing);

// [T, K] bool keep mask of the capacity rule alone (exposed for tests).
at::Tensor capacity_keep_mask(const at::Tensor& expert_ids,
                              const at::Tensor& probs,
                              int64_t num_experts,
                              const CapacityOptions& capacity,
                              const std::vector<int64_t>& capacity_groups,
                              const RoutingContext& context,
                              std::vector<int64_t>* capacities = nullptr);

}  // namespace switchyard::models
