#include "models/transformer/attention.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/transformer/causal_attention.h"

namespace switchyard::models {

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const AttentionOptions& options)
    : options_(options) {
  SY_CHECK_EQ(options_.hidden_size % options_.num_heads, 0);
  const int64_t h = options_.hidden_size;
  qkv_ = register_module("qkv", torch::nn::Linear(h, 3 * h));
  out_ = register_module("out", torch::nn::Linear(h, h));
  resid_dropout_ = register_module("resid_dropout", torch::nn::Dropout(options_.dropout));
  const int64_t s = options_.max_seq_length;
  if (options_.rotary) {
    const int64_t d = h / options_.num_heads;
    SY_CHECK_EQ(d % 2, 0) << "rotary embeddings need an even head size";
    // theta_i = 10000^(-2i/D); angle[s, i] = s * theta_i.
    const at::Tensor inv_freq = at::pow(10000.0, -at::arange(0, d, 2, at::kFloat) / d);  // [D/2]
    const at::Tensor angles = at::outer(at::arange(s, at::kFloat), inv_freq);            // [S, D/2]
    rope_cos_ = register_buffer("rope_cos", angles.cos());
    rope_sin_ = register_buffer("rope_sin", angles.sin());
  }
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t d = x.size(-1);
  const at::Tensor pairs =
      x.reshape({x.size(0), x.size(1), x.size(2), d / 2, 2});  // [B,nh,S,D/2,2]
  const at::Tensor x0 = pairs.select(-1, 0);
  const at::Tensor x1 = pairs.select(-1, 1);
  const at::Tensor r0 = x0 * cos - x1 * sin;  // [B, nh, S, D/2]
  const at::Tensor r1 = x0 * sin + x1 * cos;
  return at::stack({r0, r1}, -1).reshape(x.sizes());  // [B, nh, S, D]
}

at::Tensor CausalSelfAttentionImpl::forward(const at::Tensor& x) {
  const int64_t b = x.size(0);
  const int64_t s = x.size(1);
  const int64_t h = options_.hidden_size;
  const int64_t nh = options_.num_heads;
  const int64_t d = h / nh;
  SY_CHECK_LE(s, options_.max_seq_length);
  const at::Tensor fused_qkv = qkv_(x);  // [B, S, 3H]
  const bool dropout_active = is_training() && options_.dropout > 0.0;
  if (options_.fused && !dropout_active && fused_qkv.device().is_cpu() &&
      (fused_qkv.scalar_type() == at::kFloat || fused_qkv.scalar_type() == at::kDouble)) {
    at::Tensor packed = fused_qkv;  // [B, S, 3H]
    if (options_.rotary) {
      // Rotate q and k in the [B, S, nh, D] layout (angles [S, 1, D/2] broadcast over heads) and
      // repack: [B, S, 3H].
      const std::vector<at::Tensor> parts = fused_qkv.split(h, -1);
      const at::Tensor cos = rope_cos_.slice(0, 0, s).unsqueeze(1);  // [S, 1, D/2]
      const at::Tensor sin = rope_sin_.slice(0, 0, s).unsqueeze(1);
      const at::Tensor q = apply_rotary(parts[0].view({b, s, nh, d}), cos, sin).view({b, s, h});
      const at::Tensor k = apply_rotary(parts[1].view({b, s, nh, d}), cos, sin).view({b, s, h});
      packed = at::cat({q, k, parts[2]}, -1);  // [B, S, 3H]
    }
    return resid_dropout_(out_(causal_attention(packed, nh)));  // [B, S, H]
  }
  // [B, S, 3H] -> 3 x [B, S, nh, D] -> [B, nh, S, D]
  const std::vector<at::Tensor> qkv = fused_qkv.split(h, -1);
  at::Tensor q = qkv[0].view({b, s, nh, d}).transpose(1, 2);
  at::Tensor k = qkv[1].view({b, s, nh, d}).transpose(1, 2);
  const at::Tensor v = qkv[2].view({b, s, nh, d}).transpose(1, 2);
  if (options_.rotary) {
    const at::Tensor cos = rope_cos_.slice(0, 0, s);  // [S, D/2]
    const at::Tensor sin = rope_sin_.slice(0, 0, s);
    q = apply_rotary(q, cos, sin);
    k = apply_rotary(k, cos, sin);
  }
  // The generic path (any device): softmax(q k^T / sqrt(D) + causal mask) v, [B, nh, S, D],
  // with attention dropout in training.
  const double dropout_p = dropout_active ? options_.dropout : 0.0;
  const at::Tensor attended =
      at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt, dropout_p,
                                       /*is_causal=*/true);
  // [B, nh, S, D] -> [B, S, nh, D] -> [B, S, H]
  const at::Tensor y = attended.transpose(1, 2).contiguous().view({b, s, h});
  return resid_dropout_(out_(y));
}

}  // namespace switchyard::models
