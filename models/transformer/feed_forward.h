// File: models/transformer/feed_forward.h
//
// FeedForward: what fills the feed-forward slot of a transformer block, dense (DenseMlp) or MoE
// (MoEFeedForward). One virtual call with the forward's context, so the block needs no knowledge
// of which kind it holds.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "models/forward_context.h"

namespace switchyard::models {

class FeedForward : public torch::nn::Module {
 public:
  // x: [B, S, H] -> [B, S, H] (without the residual; the block adds it).
  virtual at::Tensor forward(const at::Tensor& x, const ForwardContext& context) = 0;
};

}  // namespace switchyard::models
