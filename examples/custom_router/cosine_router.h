// File: examples/custom_router/cosine_router.h
//
// A router written OUTSIDE the library, as a user would: cosine routing from X-MoE (Chi et al.,
// "On the Representation Collapse of Sparse Mixture of Experts", arXiv 2204.09179). Tokens are
// projected to a small routing space, and the logit of expert i is the cosine similarity of the
// projected token and expert i's embedding divided by a temperature:
//   s_i = cos(W x, e_i) / tau,   W: [d_r, H],  e_i: [d_r],  scores = softmax(s),
// then token-choice top-k over the scores (weights renormalized when normalize_top_k).
#pragma once

#include <cstdint>

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace example {

class CosineRouter : public switchyard::models::Router {
 public:
  // routing_dim: d_r; temperature: tau (X-MoE uses a small value such as 0.07).
  CosineRouter(const switchyard::models::RouterOptions& options,
               int64_t routing_dim,
               double temperature);

  switchyard::models::RoutingResult route(
      const at::Tensor& tokens, const switchyard::models::RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return options_.top_k; }

  int64_t calls() const { return calls_; }  // route() calls so far, for the example's report

 private:
  switchyard::models::RouterOptions options_;
  double temperature_;
  at::Tensor projection_;        // [d_r, H] float32
  at::Tensor expert_embedding_;  // [E, d_r] float32
  int64_t calls_ = 0;
};

}  // namespace example
