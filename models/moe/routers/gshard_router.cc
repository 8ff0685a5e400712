#include "models/moe/routers/gshard_router.h"

#include <limits>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/router_noise.h"
#include "models/moe/routers/topk_router.h"

namespace switchyard::models {

GShardRouter::GShardRouter(const RouterOptions& options) : options_(options) {
  SY_CHECK_GE(options.num_experts, 2) << "GShard top-2 needs at least 2 experts";
  SY_CHECK_EQ(options.top_k, 2) << "the GShard router is top-2";
  weight_ = register_parameter("weight", initial_router_weight(options));
}

RoutingResult GShardRouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  const int64_t num_tokens = tokens.size(0);
  at::Tensor x = router_input(tokens, options_.input_jitter_eps, context);  // [T, H]
  RoutingResult r;
  r.logits = at::linear(x, weight_);     // [T, E]
  r.scores = at::softmax(r.logits, -1);  // [T, E]
  at::Tensor logits = r.logits.detach();
  at::Tensor e1 = logits.argmax(-1, /*keepdim=*/true);                               // [T, 1]
  at::Tensor rest = logits.scatter(1, e1, -std::numeric_limits<float>::infinity());  // [T, E]
  if (context.training && options_.gshard.second_expert_policy == SecondExpertPolicy::kSampling) {
    at::Tensor u = uniform_rows(context.seed, NoiseStream::kGumbel, context.row_offset, num_tokens,
                                context.global_rows, options_.num_experts)
                       .to(logits.device());                      // [T, E]
    rest = rest - at::log(-at::log(u.clamp(1e-20, 1.0 - 1e-7)));  // + Gumbel
  }
  at::Tensor e2 = rest.argmax(-1, /*keepdim=*/true);  // [T, 1]
  at::Tensor g1 = r.scores.gather(1, e1);             // [T, 1]
  at::Tensor g2 = r.scores.gather(1, e2);             // [T, 1]
  at::Tensor keep2 = at::ones_like(e2, at::kBool);    // [T, 1]
  if (context.training && options_.gshard.second_expert_policy == SecondExpertPolicy::kRandom) {
    at::Tensor u = uniform_rows(context.seed, NoiseStream::kRandomKeep, context.row_offset,
                                num_tokens, context.global_rows, 1)
                       .to(logits.device());  // [T, 1]
    at::Tensor g2_test = g2.detach();
    if (options_.gshard.normalize_before_dropping) g2_test = g2_test / (g1.detach() + g2_test);
    keep2 = (g2_test * 2.0).gt(u);
  }
  r.expert_ids = at::cat({e1, e2.masked_fill(keep2.logical_not(), -1)}, 1);  // [T, 2]
  r.probs = at::cat({g1, g2 * keep2.to(g2.scalar_type())}, 1);               // [T, 2]
  r.balance_ids = e1;
  r.balance_k = 1;
  r.renormalize_after_drop = true;
  r.normalized_weights = true;
  return r;
}

}  // namespace switchyard::models
