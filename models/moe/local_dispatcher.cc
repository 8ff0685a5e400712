#include "models/moe/local_dispatcher.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {

at::Tensor combine_rows(const at::Tensor& rows, const DispatchPlan& plan, at::ScalarType dtype) {
  SY_CHECK_EQ(rows.size(0), plan.token_index.size(0)) << "expert output rows vs plan";
  // [N, H] * [N, 1] -> scatter-add into [T, H] (float32 accumulation).
  at::Tensor weighted = rows.to(plan.weights.scalar_type()) * plan.weights.unsqueeze(1);
  at::Tensor out = at::zeros({plan.num_tokens, rows.size(1)}, weighted.options())
                       .index_add(0, plan.token_index, weighted);  // [T, H]
  return out.to(dtype);
}

DispatchedTokens LocalDispatcher::dispatch(const at::Tensor& tokens, const DispatchPlan& plan) {
  SY_CHECK_EQ(plan.num_experts, num_experts_);
  SY_CHECK_EQ(tokens.size(0), plan.num_tokens);
  DispatchedTokens out;
  out.tokens = tokens.index_select(0, plan.token_index);  // [N, H] grouped by expert
  out.tokens_per_expert = plan.tokens_per_expert;         // [E]
  out.handle.plan = plan;
  return out;
}

at::Tensor LocalDispatcher::combine(const at::Tensor& expert_output, const DispatchHandle& handle) {
  return combine_rows(expert_output, handle.plan, expert_output.scalar_type());
}

}  // namespace switchyard::models
