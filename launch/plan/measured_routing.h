// File: launch/plan/measured_routing.h
//
// The router figures the planner takes as inputs (launch/plan/model_shape.h), measured by a short
// training run instead of assumed: `switchyard plan --from-run RUN_DIR` (docs/planner.md §2).
// Read from the run's metrics.jsonl, averaged over the MoE layers and the later half of the
// logged steps (launch::in_later_half, as the sweep report averages them, so the load CV equals
// the report's):
//   load_cv                per layer `load_cv` (std / mean of tokens per expert);
//   inter_node_locality    per layer `cross_node_fraction` (rows whose expert is on another
//                          node) / what uniform routing sends off the node on the run's layout,
//                          (P - G) / P;
//   remote_nodes_locality  per layer `inter_node_rows` / tokens (tokens = sum of
//                          `tokens_per_expert` / top-k): distinct remote nodes per token, over
//                          the uniform top-k figure (N - 1) p_node (launch/plan/a2a_cost.h); only
//                          from a run of the node-deduplicated exchange, whose rows are one per
//                          token and remote node.
// The localities are ratios to uniform routing so that they carry over to another layout (more
// nodes, another EP size); the absolute figures belong to the run's own. A run on one node
// measures no locality: both are then left unset (uniform routing is assumed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "launch/report/metrics_reader.h"

namespace switchyard::plan {

// What the run was: its expert-parallel group and experts (from its config.pbtxt).
struct RunLayout {
  int ep = 1;               // P
  int ranks_per_node = 0;   // G (0: unknown, no locality can be measured)
  int64_t experts = 8;      // E
  int64_t top_k = 2;        // k
  bool node_dedup = false;  // comm.deduplicate_tokens with the hierarchical exchange
};

struct MeasuredRouting {
  std::string source;                           // the metrics file
  int64_t first_step = 0, last_step = 0;        // the steps averaged
  int64_t records = 0;                          // step records that had MoE layers
  std::optional<double> load_cv;                // unset: no layer logged it
  std::optional<double> inter_node_locality;    // unset: one node, or not logged
  std::optional<double> remote_nodes_locality;  // unset: one node, no dedup, or not logged
};

// From parsed metrics of a run with `layout`. A run whose later half holds no MoE layer record is
// a ConfigError naming the file.
MeasuredRouting measured_routing(const launch::RunMetrics& metrics, const RunLayout& layout);

// Reads RUN_DIR/config.pbtxt (the run's resolved config) and RUN_DIR/metrics.jsonl; RUN_DIR must
// be a directory (ConfigError otherwise, naming it).
MeasuredRouting read_measured_routing(const std::string& run_dir);

}  // namespace switchyard::plan
