#include "models/moe/batched_experts.h"

#include <numeric>

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {

BatchedExperts::BatchedExperts(const ExpertOptions& options) : options_(options) {
  ExpertWeights w = initial_expert_weights(options);
  w1_ = register_parameter("w1", w.w1);
  w2_ = register_parameter("w2", w.w2);
}

at::Tensor BatchedExperts::forward(const at::Tensor& tokens,
                                   const std::vector<int64_t>& tokens_per_expert) {
  const int64_t num_local = options_.num_local_experts;
  SY_CHECK_EQ(static_cast<int64_t>(tokens_per_expert.size()), num_local);
  SY_CHECK_EQ(std::accumulate(tokens_per_expert.begin(), tokens_per_expert.end(), int64_t{0}),
              tokens.size(0))
      << "tokens_per_expert must add up to the rows";
  const at::Tensor x = tokens.to(w1_.scalar_type());
  std::vector<at::Tensor> w1 = w1_.unbind(0);  // L x [H, F1]
  std::vector<at::Tensor> w2 = w2_.unbind(0);  // L x [F, H]
  std::vector<at::Tensor> outputs;
  outputs.reserve(static_cast<size_t>(num_local));
  int64_t start = 0;
  for (int64_t l = 0; l < num_local; ++l) {
    const int64_t n = tokens_per_expert[static_cast<size_t>(l)];
    if (n == 0) continue;
    at::Tensor segment = x.narrow(0, start, n);                          // [n_l, H]
    at::Tensor h = expert_activation(options_.kind, segment.mm(w1[l]));  // [n_l, F]
    outputs.push_back(h.mm(w2[l]));                                      // [n_l, H]
    start += n;
  }
  if (outputs.empty()) {
    // No rows: keep the weights in the graph so every rank's backward has the same structure.
    return expert_activation(options_.kind, x.mm(w1[0])).mm(w2[0]).to(tokens.scalar_type());
  }
  at::Tensor y = outputs.size() == 1 ? outputs[0] : at::cat(outputs, 0);  // [R, H]
  return y.to(tokens.scalar_type());
}

}  // namespace switchyard::models
