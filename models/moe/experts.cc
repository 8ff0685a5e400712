#include "models/moe/experts.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/check.h"
#include "models/moe/router_noise.h"

namespace switchyard::models {

ExpertWeights initial_expert_weights(const ExpertOptions& options) {
  SY_CHECK_GT(options.hidden_size, 0) << "expert hidden_size";
  SY_CHECK_GT(options.ffn_hidden_size, 0) << "expert ffn_hidden_size";
  SY_CHECK_GT(options.num_local_experts, 0) << "num_local_experts";
  const int64_t h = options.hidden_size;
  const int64_t f = options.ffn_hidden_size;
  const int64_t f1 = options.kind == ExpertKind::kSwiGlu ? 2 * f : f;
  std::vector<at::Tensor> w1;
  std::vector<at::Tensor> w2;
  for (int64_t l = 0; l < options.num_local_experts; ++l) {
    const auto e = static_cast<uint64_t>(options.first_expert + l);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(options.init_seed, e, 0));
    const auto opts = at::TensorOptions().dtype(at::kFloat);
    w1.push_back(at::normal(0.0, options.init_std, {h, f1}, gen, opts));  // [H, F1]
    w2.push_back(at::normal(0.0, options.init_std, {f, h}, gen, opts));   // [F, H]
  }
  return {at::stack(w1), at::stack(w2)};  // [L, H, F1], [L, F, H]
}

at::Tensor expert_activation(ExpertKind kind, const at::Tensor& h) {
  if (kind == ExpertKind::kGeluMlp) return at::gelu(h);
  const int64_t f = h.size(-1) / 2;
  return at::silu(h.narrow(-1, 0, f)) * h.narrow(-1, f, f);  // [R, F]
}

}  // namespace switchyard::models
