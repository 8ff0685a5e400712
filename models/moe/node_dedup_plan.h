// File: models/moe/node_dedup_plan.h
//
// The local index work of the node-deduplicated exchange (node_dedup_dispatcher.h,
// docs/dedup.md): which rows leave a source rank, which rows a relay fans out inside its node,
// and how an expert rank expands its rows to (local expert, row) order. No communication.
//
// Shape: the EP group is N nodes x G ranks (EP rank p = n * G + g), E experts, node n holds
// experts [n * E_node, (n + 1) * E_node) with E_node = E / N, rank p holds L = E / (N * G).
// Metadata of a row for a set of C experts: [2 * C] float32 = cat(combine weights, assigned
// mask). The mask is separate because a kept assignment may legitimately weigh 0.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/moe/dispatch_plan.h"

namespace switchyard::models {

struct NodeDedupShape {
  int64_t num_nodes = 1;                                                // N
  int64_t ranks_per_node = 1;                                           // G
  int64_t num_experts = 0;                                              // E (a multiple of N * G)
  int64_t experts_per_node() const { return num_experts / num_nodes; }  // E_node
  int64_t experts_per_rank() const { return num_experts / (num_nodes * ranks_per_node); }  // L
};

// Source side (phase A input): one row per (destination node, token) with >= 1 kept assignment
// on that node, grouped by node, tokens in order within a node.
struct NodeDedupSourcePlan {
  at::Tensor token_index;              // [M] int64: the token of each row
  at::Tensor meta;                     // [M, 2 * E_node] float32 (weights differentiable)
  std::vector<int64_t> rows_per_node;  // [N] rows for each destination node (host)
  std::vector<int64_t> rows_per_rank;  // [N * G] of those, rows needing rank (n, g) (host)
};

// plan: the rank's DispatchPlan (kept rows grouped by expert). Host sync: the counts.
NodeDedupSourcePlan make_node_dedup_source_plan(const DispatchPlan& plan,
                                                const NodeDedupShape& shape);

// Relay side (phase B input): from the rows received in phase A ([M', 2 * E_node] metadata),
// one row per (destination local rank g, received row) where row has >= 1 assigned expert on g,
// grouped by g, received order within g.
struct NodeFanOut {
  at::Tensor row_index;                // [M_B] int64: received row of each fanned-out row
  at::Tensor meta;                     // [M_B, 2 * L]: the columns of rank g's experts
  std::vector<int64_t> rows_per_rank;  // [G] (host)
};

// Test-only faults (tests/models/node_dedup_gold_test.cc shows that the gold test catches them).
enum class NodeDedupFault {
  kNone,
  // The fan-out sends rank g the weights of rank (g + 1) % G's experts (mask still right).
  kFanOutWrongWeights,
  // The node reduce keeps one expert rank's output per row instead of summing (index_copy).
  kNodeReduceKeepsOne,
};

NodeFanOut make_node_fan_out(const at::Tensor& received_meta,
                             const NodeDedupShape& shape,
                             NodeDedupFault fault = NodeDedupFault::kNone);

// Expert side: the rows received in phase B ([R_B, 2 * L] metadata) expanded to one row per
// (local expert, received row) with the row assigned to that expert, grouped by local expert.
struct ExpertExpansion {
  at::Tensor row_index;                    // [R] int64: received row of each expert row
  at::Tensor weights;                      // [R] float32 combine weight (differentiable)
  std::vector<int64_t> tokens_per_expert;  // [L] (host)
};

ExpertExpansion expand_to_local_experts(const at::Tensor& received_meta, int64_t local_experts);

}  // namespace switchyard::models
