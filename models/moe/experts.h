// File: models/moe/experts.h
//
// Experts: the feed-forward networks of the experts held by this rank, applied to rows grouped by
// local expert. Two kinds (no biases):
//   kGeluMlp  y = GELU(x W1) W2                       W1 [H, F], W2 [F, H]
//   kSwiGlu   y = (SiLU(x Wg) * (x Wp)) Wo            (Shazeer, "GLU Variants Improve
//             Transformer", arXiv 2002.05202); stored fused: w1 = [Wg | Wp] [H, 2F], w2 = Wo
// Parameters "w1" [L, H, F1] and "w2" [L, F, H] (F1 = F or 2F) are identical for every
// implementation, so state can be copied between them. Expert e's initial weights depend only on
// (init_seed, e): any expert-parallel layout starts from the same global experts.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace switchyard::models {

enum class ExpertKind { kGeluMlp, kSwiGlu };

struct ExpertOptions {
  ExpertKind kind = ExpertKind::kGeluMlp;
  int64_t hidden_size = 0;
  int64_t ffn_hidden_size = 256;
  int64_t num_local_experts = 1;
  int64_t first_expert = 0;  // global index of local expert 0
  double init_std = 0.02;
  uint64_t init_seed = 2;
};

class Experts : public torch::nn::Module {
 public:
  // tokens: [R, H] grouped by local expert; tokens_per_expert: [L], sum = R. Returns [R, H].
  virtual at::Tensor forward(const at::Tensor& tokens,
                             const std::vector<int64_t>& tokens_per_expert) = 0;
  virtual int64_t num_local_experts() const = 0;
  virtual const at::Tensor& w1() const = 0;  // [L, H, F1]
  virtual const at::Tensor& w2() const = 0;  // [L, F, H]
};

struct ExpertWeights {
  at::Tensor w1;  // [L, H, F1]
  at::Tensor w2;  // [L, F, H]
};
ExpertWeights initial_expert_weights(const ExpertOptions& options);

// The expert activation on the first GEMM's output: GELU of [R, F], or SiLU(gate) * up of
// [R, 2F] -> [R, F].
at::Tensor expert_activation(ExpertKind kind, const at::Tensor& h);

}  // namespace switchyard::models
