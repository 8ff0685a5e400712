// File: models/moe/batched_experts.h
//
// BatchedExperts: the fast path. Rows arrive sorted into contiguous per-expert segments; each
// segment runs two GEMMs against its expert's weights (one GEMM per expert and layer, never a
// per-token loop). The stacked weights are unbound once per call, so backward stacks the expert
// gradients in one node instead of accumulating L full-size select gradients.
#pragma once

#include "models/moe/experts.h"

namespace switchyard::models {

class BatchedExperts : public Experts {
 public:
  explicit BatchedExperts(const ExpertOptions& options);

  at::Tensor forward(const at::Tensor& tokens,
                     const std::vector<int64_t>& tokens_per_expert) override;
  int64_t num_local_experts() const override { return options_.num_local_experts; }
  const at::Tensor& w1() const override { return w1_; }
  const at::Tensor& w2() const override { return w2_; }

 private:
  ExpertOptions options_;
  at::Tensor w1_;
  at::Tensor w2_;
};

}  // namespace switchyard::models
