// File: models/moe/routers/expert_choice_router.h
//
// Expert-choice routing (Zhou et al., "Mixture-of-Experts with Expert Choice Routing",
// arXiv 2202.09368): S = softmax(X W) [T, E]; per routing group of n tokens every expert takes its
// top kc = min(n, ceil(n * c / E)) tokens (c = expert_choice.capacity_factor, default 2); the
// gate of a chosen (token, expert) pair is S[t, e]. The result has K = E slots per token:
// expert_ids[t, e] = e if expert e chose t, else -1. A token may get 0..E experts.
// Balanced by construction: no balance loss (balance_ids undefined). Depends on the whole routing
// group; with batch-independent mode the groups are single sequences.
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class ExpertChoiceRouter : public Router {
 public:
  explicit ExpertChoiceRouter(const RouterOptions& options);

  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return options_.num_experts; }
  bool uses_batch_noise(bool training) const override {
    return training && options_.input_jitter_eps > 0.0;  // the input jitter only
  }

  // Tokens each expert takes in a group of n tokens.
  int64_t tokens_per_expert(int64_t group_tokens) const;

 private:
  RouterOptions options_;
  at::Tensor weight_;
};

}  // namespace switchyard::models
