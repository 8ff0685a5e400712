#include "models/moe/routers/topk_router.h"

#include <limits>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/check.h"
#include "models/moe/router_noise.h"

namespace switchyard::models {

at::Tensor router_input(const at::Tensor& tokens,
                        double jitter_eps,
                        const RoutingContext& context) {
  SY_CHECK_EQ(tokens.dim(), 2) << "router input must be [T, H]";
  at::Tensor x = tokens.to(at::kFloat);  // [T, H] float32 ("selective precision")
  if (!context.training || jitter_eps <= 0.0) return x;
  at::Tensor u = uniform_rows(context.seed, NoiseStream::kJitter, context.row_offset, x.size(0),
                              context.global_rows, x.size(1))
                     .to(x.device());  // [T, H]
  return x * (u * (2.0 * jitter_eps) + (1.0 - jitter_eps));
}

at::Tensor initial_router_weight(const RouterOptions& options) {
  SY_CHECK_GT(options.hidden_size, 0) << "router hidden_size";
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.init_seed);
  return at::normal(0.0, options.init_std, {options.num_experts, options.hidden_size}, gen,
                    at::TensorOptions().dtype(at::kFloat));  // [E, H]
}

TopKRouter::TopKRouter(const RouterOptions& options) : options_(options) {
  SY_CHECK(options.top_k >= 1 && options.top_k <= options.num_experts)
      << "top_k " << options.top_k << " with " << options.num_experts << " experts";
  const GroupLimitedOptions& groups = options.group_limited;
  if (groups.num_groups > 0) {
    SY_CHECK_EQ(options.num_experts % groups.num_groups, 0)
        << "num_expert_groups must divide num_experts";
    SY_CHECK(groups.group_top_k >= 1 && groups.group_top_k <= groups.num_groups)
        << "group_top_k " << groups.group_top_k;
    SY_CHECK_EQ(options.top_k % groups.group_top_k, 0) << "group_top_k must divide top_k";
  }
  weight_ = register_parameter("weight", initial_router_weight(options));
  expert_bias_ = register_buffer("expert_bias", at::zeros({options.num_experts}, at::kFloat));
}

RoutingResult TopKRouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  const int64_t num_tokens = tokens.size(0);
  const int64_t num_experts = options_.num_experts;
  at::Tensor x = router_input(tokens, options_.input_jitter_eps, context);  // [T, H]
  RoutingResult r;
  r.logits = at::linear(x, weight_);  // [T, E]
  r.scores = options_.score_function == ScoreFunction::kSoftmax ? at::softmax(r.logits, -1)
                                                                : at::sigmoid(r.logits);  // [T, E]

  at::Tensor select = r.scores.detach();  // [T, E] selection scores, no gradient
  if (options_.aux_free_bias.enabled) select = select + expert_bias_;
  const GroupLimitedOptions& limited = options_.group_limited;
  if (limited.num_groups > 0 && num_tokens > 0) {
    const int64_t groups = limited.num_groups;
    const int64_t per_group = num_experts / groups;
    // [T, G]: sum of the top (k / group_top_k) selection scores of each group.
    at::Tensor group_scores =
        std::get<0>(select.view({num_tokens, groups, per_group})
                        .topk(std::min(per_group, options_.top_k / limited.group_top_k), -1))
            .sum(-1);
    at::Tensor group_idx = std::get<1>(group_scores.topk(limited.group_top_k, -1));   // [T, gk]
    at::Tensor group_mask = at::zeros_like(group_scores).scatter(1, group_idx, 1.0);  // [T, G]
    at::Tensor expert_mask = group_mask.unsqueeze(-1)
                                 .expand({num_tokens, groups, per_group})
                                 .reshape({num_tokens, num_experts});  // [T, E]
    select = select.masked_fill(expert_mask.eq(0), -std::numeric_limits<float>::infinity());
  }
  r.expert_ids = std::get<1>(select.topk(options_.top_k, -1));  // [T, k]
  r.probs = r.scores.gather(1, r.expert_ids);                   // [T, k] unbiased scores
  r.normalized_weights = options_.normalize_top_k;
  if (options_.normalize_top_k) {
    r.probs = r.probs / r.probs.sum(-1, /*keepdim=*/true).clamp_min(1e-20);
  }
  r.balance_ids = r.expert_ids;
  r.balance_k = options_.top_k;
  return r;
}

void TopKRouter::update_expert_bias(const at::Tensor& global_counts) {
  if (!options_.aux_free_bias.enabled) return;
  at::NoGradGuard no_grad;
  at::Tensor load = global_counts.to(at::kFloat).view({num_experts()});  // [E]
  // b_i += gamma * sign(mean_load - load_i)
  expert_bias_.add_(at::sign(load.mean() - load) * options_.aux_free_bias.update_rate);
}

}  // namespace switchyard::models
