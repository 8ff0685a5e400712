// File: models/transformer/mlp.h
//
// The dense feed-forward block: Linear(H, F) -> GELU -> Linear(F, H) -> dropout.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "models/transformer/feed_forward.h"

namespace switchyard::models {

class DenseMlpImpl : public FeedForward {
 public:
  DenseMlpImpl(int64_t hidden_size, int64_t ffn_hidden_size, double dropout);
  // x: [..., H] -> [..., H]
  at::Tensor forward(const at::Tensor& x);
  at::Tensor forward(const at::Tensor& x, const ForwardContext& context) override {
    return forward(x);
  }

  torch::nn::Linear& out_proj() { return down_; }

 private:
  torch::nn::Linear up_{nullptr};    // H -> F
  torch::nn::Linear down_{nullptr};  // F -> H
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(DenseMlp);

}  // namespace switchyard::models
