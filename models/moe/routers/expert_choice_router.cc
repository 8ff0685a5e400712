#include "models/moe/routers/expert_choice_router.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/routers/topk_router.h"

namespace switchyard::models {

ExpertChoiceRouter::ExpertChoiceRouter(const RouterOptions& options) : options_(options) {
  SY_CHECK_GT(options.expert_choice.capacity_factor, 0.0) << "expert-choice capacity factor";
  weight_ = register_parameter("weight", initial_router_weight(options));
}

int64_t ExpertChoiceRouter::tokens_per_expert(int64_t group_tokens) const {
  const double k =
      std::ceil(static_cast<double>(group_tokens) * options_.expert_choice.capacity_factor /
                static_cast<double>(options_.num_experts));
  return std::min(group_tokens, static_cast<int64_t>(k));
}

RoutingResult ExpertChoiceRouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  const int64_t num_tokens = tokens.size(0);
  const int64_t num_experts = options_.num_experts;
  at::Tensor x = router_input(tokens, options_.input_jitter_eps, context);  // [T, H]
  RoutingResult r;
  r.logits = at::linear(x, weight_);     // [T, E]
  r.scores = at::softmax(r.logits, -1);  // [T, E]
  at::Tensor s = r.scores.detach();

  std::vector<int64_t> sizes = context.group_sizes;
  if (sizes.empty()) sizes.push_back(num_tokens);
  std::vector<at::Tensor> masks;  // per group [n, E] bool
  int64_t start = 0;
  const ExpertChoiceOptions& ec = options_.expert_choice;
  for (int64_t n : sizes) {
    at::Tensor s_g = s.narrow(0, start, n);  // [n, E]
    at::Tensor mask = at::zeros({n, num_experts}, s.options().dtype(at::kBool));
    if (ec.per_position && n > 0) {
      SY_CHECK(ec.seq_len > 0 && n % ec.seq_len == 0)
          << "per-position expert choice needs whole sequences of " << ec.seq_len << " tokens";
      const int64_t b = n / ec.seq_len;
      const int64_t kc = tokens_per_expert(b);
      if (kc > 0) {
        // [n, E] -> [B, S, E] -> [S, E, B]: each (position, expert) picks kc of the B tokens.
        at::Tensor by_pos = s_g.view({b, ec.seq_len, num_experts}).permute({1, 2, 0});
        at::Tensor idx = std::get<1>(by_pos.topk(kc, -1));  // [S, E, kc]
        at::Tensor m = at::zeros({ec.seq_len, num_experts, b}, s.options().dtype(at::kBool))
                           .scatter_(2, idx, true);
        mask = m.permute({2, 0, 1}).reshape({n, num_experts});  // [S, E, B] -> [B, S, E] -> [n, E]
      }
      masks.push_back(mask);
      start += n;
      continue;
    }
    const int64_t kc = tokens_per_expert(n);
    if (kc > 0) {
      at::Tensor idx = std::get<1>(s_g.t().topk(kc, 1));  // [E, kc] token indices per expert
      mask.scatter_(0, idx.t().contiguous(), true);       // [n, E]
    }
    masks.push_back(mask);
    start += n;
  }
  SY_CHECK_EQ(start, num_tokens) << "group sizes must add up to the tokens";
  at::Tensor chosen = at::cat(masks, 0);  // [T, E]
  at::Tensor experts = at::arange(num_experts, s.options().dtype(at::kLong))
                           .unsqueeze(0)
                           .expand({num_tokens, num_experts});
  r.expert_ids = experts.masked_fill(chosen.logical_not(), -1).contiguous();  // [T, E]
  r.probs = r.scores * chosen.to(r.scores.scalar_type());                     // [T, E]
  return r;
}

}  // namespace switchyard::models
