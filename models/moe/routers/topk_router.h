// File: models/moe/routers/topk_router.h
//
// Token-choice top-k router with softmax or sigmoid scores. Covers:
//   * Switch Transformer top-1 (Fedus, Zoph, Shazeer, arXiv 2101.03961): k = 1, softmax,
//     normalize_top_k = false (the gate is p_{i*}, not 1).
//   * generic top-k with optional renormalization of the selected weights;
//   * multiplicative input jitter x * U(1 - eps, 1 + eps) (Switch; Megatron input jitter);
//   * DeepSeek-V3 (arXiv 2412.19437) aux-loss-free balancing (Wang et al., arXiv 2408.15664):
//     selection on scores + b, gates from the unbiased scores, b_i += gamma * sign(mean - load_i);
//   * DeepSeek-V3 group-limited (node-limited) top-k: group score = sum of the top (k /
//     group_top_k) scores of the group; only the best group_top_k groups are eligible.
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class TopKRouter : public Router {
 public:
  explicit TopKRouter(const RouterOptions& options);

  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return options_.top_k; }
  bool uses_batch_noise(bool training) const override {
    return training && options_.input_jitter_eps > 0.0;  // the input jitter only
  }
  void update_expert_bias(const at::Tensor& global_counts) override;

  const at::Tensor& weight() const { return weight_; }            // [E, H] float32
  const at::Tensor& expert_bias() const { return expert_bias_; }  // [E] float32

 private:
  RouterOptions options_;
  at::Tensor weight_;
  at::Tensor expert_bias_;
};

// Shared by the built-in routers: the router input in float32 with the optional jitter applied
// ([T, H]), and the initial router weight [E, H] ~ N(0, init_std^2) from init_seed.
at::Tensor router_input(const at::Tensor& tokens, double jitter_eps, const RoutingContext& context);
at::Tensor initial_router_weight(const RouterOptions& options);

}  // namespace switchyard::models
