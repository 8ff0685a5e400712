#include "models/transformer/mlp.h"

#include <ATen/ATen.h>

namespace switchyard::models {

DenseMlpImpl::DenseMlpImpl(int64_t hidden_size, int64_t ffn_hidden_size, double dropout) {
  up_ = register_module("up", torch::nn::Linear(hidden_size, ffn_hidden_size));
  down_ = register_module("down", torch::nn::Linear(ffn_hidden_size, hidden_size));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

at::Tensor DenseMlpImpl::forward(const at::Tensor& x) { return dropout_(down_(at::gelu(up_(x)))); }

}  // namespace switchyard::models
