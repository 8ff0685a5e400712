// File: models/transformer/norm.h
//
// The normalization of pre-norm blocks: RMSNorm (Zhang & Sennrich, arXiv 1910.07467) or
// LayerNorm (Ba et al., arXiv 1607.06450), chosen at construction.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace switchyard::models {

enum class NormKind { kRmsNorm, kLayerNorm };

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(NormKind kind, int64_t dim, double eps = 1e-5);
  // x: [..., dim] -> [..., dim]
  at::Tensor forward(const at::Tensor& x);

 private:
  NormKind kind_;
  double eps_;
  at::Tensor weight_;  // [dim]
  at::Tensor bias_;    // [dim], LayerNorm only
};
TORCH_MODULE(Norm);

}  // namespace switchyard::models
