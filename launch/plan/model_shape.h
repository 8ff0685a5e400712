// File: launch/plan/model_shape.h
//
// What the planner needs of an experiment (launch/ sees the config; the cost terms see only
// this struct), and the layout it is priced at.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/experiment.pb.h"

namespace switchyard::plan {

struct ModelShape {
  int64_t vocab = 256;
  int64_t hidden = 128;  // H
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t seq = 64;         // S
  int64_t dense_ffn = 512;  // F of dense blocks
  int64_t moe_layers = 0;   // blocks with an MoE FFN
  int64_t experts = 8;      // E
  int64_t top_k = 2;        // k
  int64_t expert_ffn = 256;
  int64_t expert_matrices = 2;  // GELU MLP 2, SwiGLU 3
  bool tie_embeddings = true;
  int64_t global_batch = 16;   // sequences per step
  int64_t act_bytes = 4;       // bytes of an activation on the wire and in GEMMs (4 FP32, 2 BF16)
  double capacity_factor = 0;  // 0 = dropless
  // Router load: coefficient of variation of tokens per expert (std / mean); the busiest expert
  // gets (1 + load_cv) x the mean (dropless) or min(that, capacity_factor).
  double load_cv = 0.1;
  // Expected fraction of a rank's (token, expert) rows sent to other nodes; < 0: uniform
  // routing, (P - G) / P. Locality routers (LocMoE) lower it; give a measured value.
  double inter_node_fraction = -1;
  // Node-deduplicated exchange (comm.deduplicate_tokens with HIERARCHICAL): expected distinct
  // remote destination nodes per token; < 0: from uniform top-k (distinct_remote_nodes()).
  double distinct_remote_nodes = -1;
  // When the two figures above are < 0: ratios to uniform routing that scale its figures on every
  // layout (a router measured to send 0.6x the uniform share of rows off the node: 0.6), as
  // measured by a run (launch/plan/measured_routing.h). 1 = uniform.
  double inter_node_locality = 1;
  double remote_nodes_locality = 1;
};

ModelShape model_shape_of(const config::ExperimentConfig& config);

// Where the step runs: W ranks, EP groups of P consecutive ranks, nodes of G ranks.
struct Layout {
  int world = 4;           // W
  int ep = 4;              // P (divides W and E)
  int ranks_per_node = 2;  // G of the cluster
  int physical_hosts = 0;  // hosts the nodes share (0 = one per node)
  // The EP group's shape: N_ep nodes x G_ep ranks (node-contiguous: P % G == 0 or G % P == 0).
  int ep_nodes() const { return ep >= ranks_per_node ? ep / ranks_per_node : 1; }
  int ep_ranks_per_node() const { return ep >= ranks_per_node ? ranks_per_node : ep; }
  int nodes() const { return (world + ranks_per_node - 1) / ranks_per_node; }
  int hosts() const { return physical_hosts > 0 ? physical_hosts : nodes(); }
  int ranks_per_host() const { return (world + hosts() - 1) / hosts(); }
};

// Tokens of one rank in one step: global batch x sequence / W.
double tokens_per_rank(const ModelShape& m, const Layout& l);

}  // namespace switchyard::plan
