#include "models/moe/sequential_experts.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {

SequentialExperts::SequentialExperts(const ExpertOptions& options) : options_(options) {
  ExpertWeights w = initial_expert_weights(options);
  w1_ = register_parameter("w1", w.w1);
  w2_ = register_parameter("w2", w.w2);
}

at::Tensor SequentialExperts::forward(const at::Tensor& tokens,
                                      const std::vector<int64_t>& tokens_per_expert) {
  SY_CHECK_EQ(static_cast<int64_t>(tokens_per_expert.size()), options_.num_local_experts);
  const at::Tensor x = tokens.to(w1_.scalar_type());
  std::vector<at::Tensor> rows;
  int64_t expert = 0;
  int64_t end_of_expert = tokens_per_expert.empty() ? 0 : tokens_per_expert[0];
  for (int64_t r = 0; r < x.size(0); ++r) {
    while (r >= end_of_expert) end_of_expert += tokens_per_expert[static_cast<size_t>(++expert)];
    at::Tensor h = at::matmul(x[r], w1_[expert]);                                  // [F1]
    rows.push_back(at::matmul(expert_activation(options_.kind, h), w2_[expert]));  // [H]
  }
  if (rows.empty()) {
    // [0, H], still connected to the weights (see BatchedExperts).
    return expert_activation(options_.kind, x.mm(w1_[0])).mm(w2_[0]).to(tokens.scalar_type());
  }
  return at::stack(rows).to(tokens.scalar_type());  // [R, H]
}

}  // namespace switchyard::models
