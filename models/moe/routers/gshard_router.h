// File: models/moe/routers/gshard_router.h
//
// GShard top-2 router (Lepikhin et al., "GShard: Scaling Giant Models with Conditional
// Computation and Automatic Sharding", arXiv 2006.16668), as in fairseq's top2gate:
//   g = softmax(W x); e1 = argmax g; e2 = argmax over the other experts of the logits
//   (kSampling: logits + Gumbel noise); kRandom: keep e2 iff 2 * g2 > u, u ~ U(0, 1) (g2 raw, or
//   normalized over {g1, g2} when normalize_before_dropping). Combine weights g1, g2 are
//   renormalized over the surviving assignments after capacity drops. The balance loss counts
//   first choices only (balance_ids = e1, k = 1). Noise only in training.
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class GShardRouter : public Router {
 public:
  explicit GShardRouter(const RouterOptions& options);

  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return 2; }
  // Jitter, and the second expert's Gumbel sampling or random keep.
  bool uses_batch_noise(bool training) const override {
    return training && (options_.input_jitter_eps > 0.0 ||
                        options_.gshard.second_expert_policy != SecondExpertPolicy::kDeterministic);
  }

  const at::Tensor& weight() const { return weight_; }  // [E, H] float32

 private:
  RouterOptions options_;
  at::Tensor weight_;
};

}  // namespace switchyard::models
