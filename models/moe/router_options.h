// File: models/moe/router_options.h
//
// RouterOptions: one plain struct for every built-in router (filled by moe_builder.cc from
// RouterConfig). Custom routers registered in a RouterRegistry read the fields they need.
#pragma once

#include <cstdint>
#include <string>

namespace switchyard::models {

enum class ScoreFunction { kSoftmax, kSigmoid };
enum class SecondExpertPolicy { kDeterministic, kSampling, kRandom };

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
  // GShard.
  SecondExpertPolicy second_expert_policy = SecondExpertPolicy::kRandom;
  bool normalize_before_dropping = false;
  // Expert choice: average experts per token c.
  double expert_choice_capacity_factor = 2.0;
  // Aux-loss-free bias (DeepSeek-V3).
  bool expert_bias = false;
  double bias_update_rate = 1e-3;
  // Group-limited top-k: 0 = off; otherwise the experts form this many equal groups and a token
  // uses experts of at most group_top_k groups.
  int64_t num_expert_groups = 0;
  int64_t group_top_k = 1;
  // StableMoE (Dai et al., arXiv 2204.08396), kind "stablemoe".
  int64_t vocab_size = 0;  // token ids of the distilled router
  int64_t stablemoe_stage2_step = 1000;
  bool stablemoe_bigram = false;  // distilled router: mean of current and previous token embedding
  int64_t stablemoe_distilled_dim = 50;
  double stablemoe_balance_coeff = 0.3;
  double stablemoe_distill_coeff = 0.3;
  double stablemoe_centroid_gain = 0.1;  // orthogonal init gain of both centroid matrices
  // Nodes of the expert-parallel group (node-contiguous: node n holds experts
  // [n E / N, (n + 1) E / N)). SMILE routes over them; LocMoE's locality loss reads them.
  int64_t num_nodes = 1;
  // SMILE (arXiv 2212.05191): one local router per node, per-level balance weight and capacity.
  bool smile_router_per_node = false;
  double smile_balance_coeff = 0.01;
  double smile_capacity_factor = 0.0;
  // LocMoE (arXiv 2401.13920): locality-loss weight, GrAP gating, capacity-bound delta (reported).
  double locmoe_locality_coeff = 0.01;
  bool locmoe_grouped_average_pooling = false;
  double locmoe_capacity_bound_delta = 0.03;
};

}  // namespace switchyard::models
