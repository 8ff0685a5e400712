// File: models/moe/local_dispatcher.h
//
// LocalDispatcher: expert-parallel size 1, no communication. dispatch = gather of the kept rows
// grouped by expert; combine = weighted scatter-add back to the tokens.
#pragma once

#include "models/moe/token_dispatcher.h"

namespace switchyard::models {

class LocalDispatcher : public TokenDispatcher {
 public:
  explicit LocalDispatcher(int64_t num_experts) : num_experts_(num_experts) {}

  DispatchedTokens dispatch(const at::Tensor& tokens, const DispatchPlan& plan) override;
  at::Tensor combine(const at::Tensor& expert_output, const DispatchHandle& handle) override;
  int64_t num_local_experts() const override { return num_experts_; }
  int64_t first_local_expert() const override { return 0; }

 private:
  int64_t num_experts_;
};

}  // namespace switchyard::models
