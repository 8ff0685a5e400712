#include "models/transformer/language_model.h"

#include <chrono>
#include <cmath>
#include <set>

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include "core/check.h"
#include "models/transformer/mlp.h"

namespace switchyard::models {

TransformerBlockImpl::TransformerBlockImpl(const LanguageModelOptions& o,
                                           std::shared_ptr<FeedForward> ffn)
    : ffn_(std::move(ffn)), custom_ffn_(ffn_ != nullptr) {
  attn_norm_ = register_module("attn_norm", Norm(o.norm, o.hidden_size));
  AttentionOptions a;
  a.hidden_size = o.hidden_size;
  a.num_heads = o.num_heads;
  a.max_seq_length = o.seq_length;
  a.rotary = o.rotary;
  a.dropout = o.dropout;
  a.fused = o.fused_kernels;
  attn_ = register_module("attn", CausalSelfAttention(a));
  ffn_norm_ = register_module("ffn_norm", Norm(o.norm, o.hidden_size));
  if (ffn_ == nullptr) ffn_ = DenseMlp(o.hidden_size, o.ffn_hidden_size, o.dropout).ptr();
  register_module("ffn", ffn_);
}

std::vector<at::Tensor> TransformerBlockImpl::ffn_parameters() const { return ffn_->parameters(); }

at::Tensor TransformerBlockImpl::forward(const at::Tensor& x, const ForwardContext& context) {
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor h = x + attn_(attn_norm_(x));  // [B, S, H]
  if (context.times != nullptr) {
    context.times->add(
        "attention_forward",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return h + ffn_->forward(ffn_norm_(h), context);  // [B, S, H]
}

LanguageModelImpl::LanguageModelImpl(const LanguageModelOptions& o,
                                     const FeedForwardFactory& make_ffn)
    : options_(o) {
  SY_CHECK_GT(o.vocab_size, 0);
  token_embedding_ =
      register_module("token_embedding", torch::nn::Embedding(o.vocab_size, o.hidden_size));
  if (!o.rotary) {
    position_embedding_ =
        register_module("position_embedding", torch::nn::Embedding(o.seq_length, o.hidden_size));
  }
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    blocks_->push_back(TransformerBlock(o, make_ffn ? make_ffn(layer) : nullptr));
  }
  final_norm_ = register_module("final_norm", Norm(o.norm, o.hidden_size));
  if (!o.tie_embeddings) {
    lm_head_ = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(o.hidden_size, o.vocab_size).bias(false)));
  }
  initialize();
}

void LanguageModelImpl::initialize() {
  torch::NoGradGuard no_grad;
  // GPT-2 initialization: N(0, std) for matrices and embeddings, zero biases, and residual
  // output projections scaled by 1 / sqrt(2 * num_layers).
  const double residual_std = options_.init_std / std::sqrt(2.0 * options_.num_layers);
  // Feed-forward modules from the factory (MoE layers) initialize themselves: their experts are
  // seeded by global expert id, so every expert-parallel layout starts from the same model.
  std::set<const void*> own;
  for (const auto& block : *blocks_) {
    const auto* b = block->as<TransformerBlock>();
    if (!b->has_custom_ffn()) continue;
    for (const at::Tensor& p : b->ffn_parameters()) own.insert(p.unsafeGetTensorImpl());
  }
  for (auto& item : named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    if (own.count(p.unsafeGetTensorImpl())) continue;
    if (name.find("norm") != std::string::npos) continue;  // ones / zeros from the norms
    if (p.dim() == 1) {
      p.zero_();
      continue;
    }
    const bool residual_out = name.find(".attn.out.weight") != std::string::npos ||
                              name.find(".ffn.down.weight") != std::string::npos;
    p.normal_(0.0, residual_out ? residual_std : options_.init_std);
  }
}

at::Tensor LanguageModelImpl::forward(const at::Tensor& tokens, const ForwardContext& context) {
  SY_CHECK_EQ(tokens.dim(), 2);
  const int64_t s = tokens.size(1);
  SY_CHECK_LE(s, options_.seq_length);
  at::Tensor x = token_embedding_(tokens);  // [B, S, H]
  if (!options_.rotary) {
    x = x + position_embedding_(at::arange(s, tokens.options().dtype(at::kLong)));  // + [S, H]
  }
  ForwardContext block_context = context;
  block_context.token_ids = tokens;  // [B, S]
  for (const auto& block : *blocks_) x = block->as<TransformerBlock>()->forward(x, block_context);
  x = final_norm_(x);
  // [B, S, H] x [V, H]^T -> [B, S, V]; a tied head reuses the embedding table.
  return options_.tie_embeddings ? at::linear(x, token_embedding_->weight) : lm_head_(x);
}

}  // namespace switchyard::models
