// File: train/optimizer.h
//
// AdamW (Loshchilov & Hutter, arXiv 1711.05101; LibTorch's implementation) with two parameter
// groups: weight decay on parameters of two or more dimensions (matrices, embeddings, expert
// weights), none on norms and biases. Its state is exposed by parameter name so checkpoints can
// store it independently of the process that holds it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/optim/adamw.h>

namespace switchyard::train {

struct OptimizerOptions {
  double learning_rate = 1e-3;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double epsilon = 1e-8;
};

struct NamedParameter {
  std::string name;
  at::Tensor tensor;
};

class Optimizer {
 public:
  Optimizer(const std::vector<NamedParameter>& params, const OptimizerOptions& options);

  void set_learning_rate(double lr);
  void zero_grad();
  // Parameters that do not require a gradient are frozen: they are skipped entirely.
  void step();

  // The per-parameter state: exp_avg, exp_avg_sq (same shape as the parameter) and step (a
  // [1] int64 tensor). Parameters the optimizer has not stepped yet have no state.
  struct ParamState {
    at::Tensor exp_avg;
    at::Tensor exp_avg_sq;
    int64_t step = 0;
  };
  std::map<std::string, ParamState> state() const;
  // Replaces the state of the named parameters (unknown names are an error).
  void load_state(const std::map<std::string, ParamState>& state);

 private:
  std::vector<NamedParameter> params_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace switchyard::train
