// File: models/transformer/attention.h
//
// Causal multi-head self-attention with a fused QKV projection, and optional rotary position
// embeddings (Su et al., "RoFormer", arXiv 2104.09864).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace switchyard::models {

struct AttentionOptions {
  int64_t hidden_size = 128;
  int64_t num_heads = 4;
  int64_t max_seq_length = 64;
  bool rotary = false;
  double dropout = 0.0;
  // Use the fused CPU kernel (causal_attention.h) when it applies: CPU, float32/64, no attention
  // dropout in this forward (rotary embeddings are applied to q and k first). false = always the
  // generic path, at::scaled_dot_product_attention (model.kernels GENERIC; any device).
  bool fused = true;
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const AttentionOptions& options);
  // x: [B, S, H] -> [B, S, H]; position s attends to positions <= s.
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear& out_proj() { return out_; }

 private:
  AttentionOptions options_;
  torch::nn::Linear qkv_{nullptr};  // H -> 3H
  torch::nn::Linear out_{nullptr};  // H -> H
  torch::nn::Dropout resid_dropout_{nullptr};
  at::Tensor rope_cos_;  // [S_max, D/2] (buffer, rotary only)
  at::Tensor rope_sin_;  // [S_max, D/2]
};
TORCH_MODULE(CausalSelfAttention);

// Rotates pairs (x[2i], x[2i+1]) of the last dim by position-dependent angles.
// x: [B, nh, S, D] with cos, sin: [S, D/2], or [B, S, nh, D] with cos, sin: [S, 1, D/2].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace switchyard::models
