// File: models/moe/sequential_experts.h
//
// SequentialExperts: the simple reference the batched path is tested against. One row at a time:
// find the row's expert from the counts and apply that expert's two matrix-vector products.
// Same parameters and contract as BatchedExperts; slow, for tests and debugging only.
#pragma once

#include "models/moe/experts.h"

namespace switchyard::models {

class SequentialExperts : public Experts {
 public:
  explicit SequentialExperts(const ExpertOptions& options);

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
