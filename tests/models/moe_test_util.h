// Helpers of the models tests: small layers built from options structs, deterministic inputs,
// relative errors.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "models/moe/moe_builder.h"

namespace switchyard::models::testing {

// ||a - b|| / max(||b||, tiny), in float64.
inline double relative_error(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor da = a.detach().to(at::kDouble);
  at::Tensor db = b.detach().to(at::kDouble);
  const double denom = std::max(db.norm().item<double>(), 1e-30);
  return (da - db).norm().item<double>() / denom;
}

// Deterministic [rows, cols] float32 normal input of a seed.
inline at::Tensor make_tokens(int64_t rows, int64_t cols, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, 1.0, {rows, cols}, gen, at::TensorOptions().dtype(at::kFloat));
}

struct LayerSpec {
  std::string router = "top_k";
  int64_t hidden = 16;
  int64_t ffn = 32;
  int64_t experts = 4;
  int64_t top_k = 2;
  double capacity_factor = 0.0;
  DropPolicy drop_policy = DropPolicy::kPosition;
  ScoreFunction score = ScoreFunction::kSoftmax;
  bool normalize = true;
  bool expert_bias = false;
  int64_t expert_groups = 0;
  int64_t group_top_k = 1;
  double jitter = 0.0;
  ExpertKind expert_kind = ExpertKind::kGeluMlp;
  ExpertCompute compute = ExpertCompute::kBatched;
  bool batch_independent = false;
  int64_t seq_len = 0;
  LoadBalancingLoss lb = LoadBalancingLoss::kMicroBatch;
  double lb_coeff = 0.01;
  double z_coeff = 0.001;
  SecondExpertPolicy second = SecondExpertPolicy::kRandom;
  double router_init_std = 0.5;  // large, so routing is not near-uniform
};

inline MoEBuildOptions build_options(const LayerSpec& s) {
  MoEBuildOptions o;
  o.router.kind = s.router;
  o.router.hidden_size = s.hidden;
  o.router.num_experts = s.experts;
  o.router.top_k = s.top_k;
  o.router.score_function = s.score;
  o.router.normalize_top_k = s.normalize;
  o.router.aux_free_bias.enabled = s.expert_bias;
  o.router.group_limited.num_groups = s.expert_groups;
  o.router.group_limited.group_top_k = s.group_top_k;
  o.router.input_jitter_eps = s.jitter;
  o.router.gshard.second_expert_policy = s.second;
  o.router.init_std = s.router_init_std;
  o.router.init_seed = 11;
  o.layer.hidden_size = s.hidden;
  o.layer.num_experts = s.experts;
  o.layer.layer_index = 3;
  o.layer.seed = 1234;
  o.layer.capacity.capacity_factor = s.capacity_factor;
  o.layer.capacity.drop_policy = s.drop_policy;
  o.layer.capacity.top_k = s.top_k;
  o.layer.batch_independent = s.batch_independent;
  o.layer.seq_len = s.seq_len;
  o.layer.aux.load_balancing = s.lb;
  o.layer.aux.load_balancing_coeff = s.lb_coeff;
  o.layer.aux.z_loss_coeff = s.z_coeff;
  o.experts.kind = s.expert_kind;
  o.experts.hidden_size = s.hidden;
  o.experts.ffn_hidden_size = s.ffn;
  o.experts.init_std = 0.2;
  o.experts.init_seed = 99;
  o.compute = s.compute;
  return o;
}

inline MoELayer make_local_layer(const LayerSpec& s, AuxLossCollector* aux) {
  return build_moe_layer(build_options(s), MoEParallel{}, aux);
}

}  // namespace switchyard::models::testing
