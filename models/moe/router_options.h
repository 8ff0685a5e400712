// File: models/moe/router_options.h
//
// RouterOptions: the options of every built-in router (filled by moe_builder.cc from
// RouterConfig): the general fields every router reads, plus one nested struct per router family.
// Custom routers registered in a RouterRegistry read the fields they need.
#pragma once

#include <cstdint>
#include <string>

namespace switchyard::models {

enum class ScoreFunction { kSoftmax, kSigmoid };
enum class SecondExpertPolicy { kDeterministic, kSampling, kRandom };

// GShard top-2 (kind "gshard"): how the second expert is chosen and kept.
struct GShardOptions {
  SecondExpertPolicy second_expert_policy = SecondExpertPolicy::kRandom;
  bool normalize_before_dropping = false;
};

// Expert choice (kind "expert_choice"): average experts per token c.
struct ExpertChoiceOptions {
  double capacity_factor = 2.0;
  // Causal remedy: experts choose among the tokens at the same position of the group's sequences
  // (seq_len tokens each), so no token's routing depends on a later token of its sequence.
  bool per_position = false;
  int64_t seq_len = 0;
};

// Aux-loss-free bias (DeepSeek-V3), top-k router: selection on scores + b, b updated per step.
struct AuxFreeBiasOptions {
  bool enabled = false;
  double update_rate = 1e-3;
};

// Group-limited top-k (DeepSeek-V3), top-k router: 0 = off; otherwise the experts form
// num_groups equal groups and a token uses experts of at most group_top_k groups.
struct GroupLimitedOptions {
  int64_t num_groups = 0;
  int64_t group_top_k = 1;
};

// StableMoE (Dai et al., arXiv 2204.08396), kind "stablemoe".
struct StableMoEOptions {
  int64_t stage2_step = 1000;
  bool bigram = false;  // distilled router: mean of current and previous token embedding
  int64_t distilled_dim = 50;
  double balance_coeff = 0.3;
  double distill_coeff = 0.3;
  double centroid_gain = 0.1;  // orthogonal init gain of both centroid matrices
  // Balance-loss counts |A_i| and capacity over all routing groups of the step (the authors'
  // code: tokens each expert receives from all workers; one all-gather) or per routing group.
  bool global_counts = true;
  // Capacity factor of the global capacity int(cf * tokens / E) per expert (with global_counts;
  // the layer's dispatcher capacity is then 0). 0 = dropless.
  double capacity_factor = 0.0;
};

// SMILE (arXiv 2212.05191), kind "smile": one local router per node, per-level balance weight and
// capacity.
struct SmileOptions {
  bool router_per_node = false;
  double balance_coeff = 0.01;
  double capacity_factor = 0.0;
  // Level-2 capacity counted at the receiving node over every source routing group of the step
  // (one all-gather; ALGORITHMS.md §4.2) or per source routing group.
  bool receiver_capacity = true;
};

// LocMoE (arXiv 2401.13920), kind "locmoe": locality-loss weight, GrAP gating, and the
// minimum-capacity bound (its delta, what it does to the capacity, its units).
enum class LocMoECapacityBound { kReport, kFloor, kSet };
enum class LocMoEBoundUnits { kShareOfAssignments, kCapacityFactor };
struct LocMoEOptions {
  double locality_coeff = 0.01;
  bool grouped_average_pooling = false;
  double capacity_bound_delta = 0.03;
  LocMoECapacityBound capacity_bound = LocMoECapacityBound::kFloor;
  LocMoEBoundUnits capacity_bound_units = LocMoEBoundUnits::kShareOfAssignments;
};

struct RouterOptions {
  std::string kind = "top_k";  // registry name: "top_k", "gshard", "expert_choice", or custom
  int64_t hidden_size = 0;
  int64_t num_experts = 8;
  int64_t top_k = 2;
  ScoreFunction score_function = ScoreFunction::kSoftmax;
  bool normalize_top_k = true;
  // Multiplicative router-input jitter x * U(1 - eps, 1 + eps) in training; 0 = off.
  double input_jitter_eps = 0.0;
  // Router weight ~ N(0, init_std^2), drawn from init_seed (identical on every rank).
  double init_std = 0.02;
  uint64_t init_seed = 1;
  // Token ids of the vocabulary (StableMoE's distilled router).
  int64_t vocab_size = 0;
  // Nodes of the expert-parallel group (node-contiguous: node n holds experts
  // [n E / N, (n + 1) E / N)). SMILE routes over them; LocMoE's locality loss reads them.
  int64_t num_nodes = 1;

  // Per router family.
  GShardOptions gshard;
  ExpertChoiceOptions expert_choice;
  AuxFreeBiasOptions aux_free_bias;
  GroupLimitedOptions group_limited;
  StableMoEOptions stablemoe;
  SmileOptions smile;
  LocMoEOptions locmoe;
};

}  // namespace switchyard::models
