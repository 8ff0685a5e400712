#include "models/moe/routers/stablemoe_losses.h"

#include <numeric>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/routing_groups.h"

namespace switchyard::models {

at::Tensor stablemoe_balance_loss(const at::Tensor& scores,
                                  const at::Tensor& assignment,
                                  const std::vector<int64_t>& group_sizes,
                                  bool normalize_by_tokens,
                                  const at::Tensor& global_counts) {
  SY_CHECK_EQ(scores.dim(), 2) << "scores must be [T, E]";
  SY_CHECK_EQ(assignment.numel(), scores.size(0)) << "assignment must be [T]";
  const int64_t num_tokens = scores.size(0);
  const int64_t num_experts = scores.size(1);
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto num_groups = static_cast<int64_t>(sizes.size());
  at::Tensor a = assignment.reshape({num_tokens, 1}).to(at::kLong);  // [T, 1]
  at::Tensor s = scores.scalar_type() == at::kDouble ? scores : scores.to(at::kFloat);
  at::Tensor assigned = at::sigmoid(s.gather(1, a)).squeeze(1);  // [T] sigmoid(s_{t,a_t})
  at::Tensor gid = group_index(num_tokens, sizes, s.device());   // [T]
  at::Tensor cell = gid * num_experts + a.squeeze(1);            // [T] (group, expert)
  // [G, E] |A_i| per group (constant) and sum of the assigned sigmoids.
  at::Tensor counts = at::bincount(cell, {}, num_groups * num_experts)
                          .to(s.scalar_type())
                          .view({num_groups, num_experts});
  at::Tensor sig_sum = at::zeros({num_groups * num_experts}, s.options())
                           .index_add(0, cell, assigned)
                           .view({num_groups, num_experts});
  at::Tensor t =
      at::tensor(sizes, at::kLong).to(s.device(), s.scalar_type()).clamp_min(1.0);  // [G]
  at::Tensor nbar = (t / static_cast<double>(num_experts)).unsqueeze(1);            // [G, 1]
  at::Tensor factor = (counts - nbar) / nbar;                                       // [G, E]
  if (global_counts.defined()) {
    at::Tensor total =
        global_counts.to(s.device(), s.scalar_type()).view({1, num_experts});     // [1, E]
    at::Tensor nbar_all = total.sum() / static_cast<double>(num_experts);         // scalar
    factor = ((total - nbar_all) / nbar_all.clamp_min(1e-12)).expand_as(counts);  // [G, E]
  }
  at::Tensor per_group = (factor * sig_sum).sum(1);  // [G]
  if (normalize_by_tokens) per_group = per_group / t;
  return mean_over_nonempty_groups(per_group, sizes);
}

at::Tensor stablemoe_distill_loss(const at::Tensor& distilled_logits,
                                  const at::Tensor& assignment,
                                  const std::vector<int64_t>& group_sizes) {
  SY_CHECK_EQ(distilled_logits.dim(), 2) << "distilled logits must be [T, E]";
  const int64_t num_tokens = distilled_logits.size(0);
  SY_CHECK_EQ(assignment.numel(), num_tokens) << "assignment must be [T]";
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto num_groups = static_cast<int64_t>(sizes.size());
  at::Tensor z = distilled_logits.scalar_type() == at::kDouble ? distilled_logits
                                                               : distilled_logits.to(at::kFloat);
  // [T] per-token cross-entropy against the constant targets.
  at::Tensor ce = -at::log_softmax(z, -1)
                       .gather(1, assignment.reshape({num_tokens, 1}).to(at::kLong).detach())
                       .squeeze(1);
  at::Tensor sum = at::zeros({num_groups}, z.options())
                       .index_add(0, group_index(num_tokens, sizes, z.device()), ce);  // [G]
  at::Tensor t = at::tensor(sizes, at::kLong).to(z.device(), z.scalar_type()).clamp_min(1.0);
  return mean_over_nonempty_groups(sum / t, sizes);
}

}  // namespace switchyard::models
