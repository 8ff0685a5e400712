// File: train/optimizer.h
//
// AdamW (Loshchilov & Hutter, arXiv 1711.05101) with two parameter groups: weight decay on
// parameters of two or more dimensions (matrices, embeddings, expert weights), none on norms and
// biases. Its state is exposed by parameter name so checkpoints can store it independently of the
// process that holds it.
//
// The update is LibTorch's AdamW formula, fused into one pass over each parameter (decoupled
// decay, both moments, bias corrections, the step and an optional gradient scale such as the clip
// factor) instead of the seven tensor ops and temporaries of torch::optim::AdamW;
// A generic path computes the same update with ATen tensor ops on any device (the switch is
// OptimizerOptions::fused_cpu); tests/train/optimizer_test.cc checks both against
// torch::optim::AdamW step by step.
//   p *= 1 - lr * wd
//   m = b1 * m + (1 - b1) * g;   v = b2 * v + (1 - b2) * g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::train {

struct OptimizerOptions {
  double learning_rate = 1e-3;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double epsilon = 1e-8;
  // The fused one-pass CPU loop for CPU parameters (model.kernels AUTO/FUSED_CPU); false = the
  // generic update in ATen tensor ops, which runs on any device (model.kernels GENERIC, CUDA).
  bool fused_cpu = true;
};

struct NamedParameter {
  std::string name;
  at::Tensor tensor;
};

class Optimizer {
 public:
  // Parameters must be contiguous float32 or float64 tensors.
  Optimizer(const std::vector<NamedParameter>& params, const OptimizerOptions& options);

  void set_learning_rate(double lr);
  double learning_rate() const { return options_.learning_rate; }
  // Drops every gradient (the next backward writes fresh ones instead of accumulating).
  void zero_grad();
  // One AdamW step on every parameter with a gradient, using grad_scale * grad (the clip factor).
  // Parameters that do not require a gradient are frozen: skipped entirely (no update, no decay,
  // their moments and step count do not move; ALGORITHMS.md §10.6).
  void step(double grad_scale = 1.0);

  // The per-parameter state: exp_avg, exp_avg_sq (same shape as the parameter) and the step
  // count. Parameters the optimizer has not stepped yet have no state.
  struct ParamState {
    at::Tensor exp_avg;
    at::Tensor exp_avg_sq;
    int64_t step = 0;
  };
  std::map<std::string, ParamState> state() const;
  // Replaces the state of the named parameters (unknown names or shapes are an error).
  void load_state(const std::map<std::string, ParamState>& state);

 private:
  struct Slot {
    NamedParameter param;
    double weight_decay = 0;
    ParamState state;  // undefined moments until the first step
  };
  OptimizerOptions options_;
  std::vector<Slot> slots_;
};

}  // namespace switchyard::train
