// File: models/transformer/language_model.h
//
// A decoder-only transformer language model (GPT-2 layout, Radford et al. 2019): token (+ learned
// position) embedding, pre-norm blocks of causal self-attention and a feed-forward network, a
// final norm and an output projection (optionally tied to the token embedding).
//
// The feed-forward network of each block comes from a factory, so that every N-th block can hold
// an MoE layer while the others hold a DenseMlp; without a factory every block is dense.
#pragma once

#include <functional>

#include <memory>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/forward_context.h"
#include "models/transformer/attention.h"
#include "models/transformer/feed_forward.h"
#include "models/transformer/norm.h"

namespace switchyard::models {

struct LanguageModelOptions {
  int64_t vocab_size = 256;
  int64_t hidden_size = 128;
  int64_t num_layers = 4;
  int64_t num_heads = 4;
  int64_t seq_length = 64;
  int64_t ffn_hidden_size = 512;
  NormKind norm = NormKind::kLayerNorm;
  bool rotary = false;  // rotary positions instead of learned ones
  bool tie_embeddings = true;
  double dropout = 0.0;
  double init_std = 0.02;
  // The fused CPU attention kernel where it applies; false = the generic path (model.kernels).
  bool fused_kernels = true;
};

// Returns the feed-forward module of block `layer` (forward: [B, S, H] -> [B, S, H]), or null for
// the dense default.
using FeedForwardFactory = std::function<std::shared_ptr<FeedForward>(int64_t layer)>;

class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(const LanguageModelOptions& options, std::shared_ptr<FeedForward> ffn);
  // x: [B, S, H] -> [B, S, H];  x + attn(norm(x)), then + ffn(norm(x)). The context reaches the
  // feed-forward module; attention adds its time to context.times as "attention_forward".
  at::Tensor forward(const at::Tensor& x, const ForwardContext& context = {});

  // Whether the feed-forward module came from the factory (it then initializes itself).
  bool has_custom_ffn() const { return custom_ffn_; }
  std::vector<at::Tensor> ffn_parameters() const;

 private:
  Norm attn_norm_{nullptr};
  CausalSelfAttention attn_{nullptr};
  Norm ffn_norm_{nullptr};
  std::shared_ptr<FeedForward> ffn_;
  bool custom_ffn_ = false;
};
TORCH_MODULE(TransformerBlock);

class LanguageModelImpl : public torch::nn::Module {
 public:
  explicit LanguageModelImpl(const LanguageModelOptions& options,
                             const FeedForwardFactory& make_ffn = nullptr);
  // tokens: [B, S] int64 -> logits [B, S, V] float32. `context` (step, batch rows, timing
  // sink) reaches every block; its token_ids are set to `tokens`.
  at::Tensor forward(const at::Tensor& tokens, const ForwardContext& context = {});

  const LanguageModelOptions& options() const { return options_; }
  // The device of the parameters (the model is moved whole, with Module::to).
  at::Device device() const { return token_embedding_->weight.device(); }

 private:
  void initialize();

  LanguageModelOptions options_;
  torch::nn::Embedding token_embedding_{nullptr};     // [V, H]
  torch::nn::Embedding position_embedding_{nullptr};  // [S, H], learned positions only
  torch::nn::ModuleList blocks_{nullptr};
  Norm final_norm_{nullptr};
  torch::nn::Linear lm_head_{nullptr};  // H -> V; absent when tied to the token embedding
};
TORCH_MODULE(LanguageModel);

}  // namespace switchyard::models
