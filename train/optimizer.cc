#include "train/optimizer.h"

#include <c10/util/string_utils.h>

#include "core/check.h"

namespace switchyard::train {
namespace {

// LibTorch keys optimizer state by the parameter's TensorImpl address.
std::string state_key(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

}  // namespace

Optimizer::Optimizer(const std::vector<NamedParameter>& params, const OptimizerOptions& o)
    : params_(params) {
  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const NamedParameter& p : params_)
    (p.tensor.dim() >= 2 ? decay : no_decay).push_back(p.tensor);
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.learning_rate)
                                                            .betas({o.beta1, o.beta2})
                                                            .eps(o.epsilon)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(o.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(groups),
                                                 torch::optim::AdamWOptions(o.learning_rate));
}

void Optimizer::set_learning_rate(double lr) {
  for (auto& group : adamw_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

void Optimizer::zero_grad() { adamw_->zero_grad(); }

void Optimizer::step() {
  // Frozen parameters (requires_grad = false, e.g. StableMoE's stage-2 distilled router) lose the
  // gradient the synchronizer filled in, so AdamW skips them: no update, no weight decay, and
  // their moments do not move (ALGORITHMS.md §10.6).
  for (NamedParameter& p : params_) {
    if (!p.tensor.requires_grad() && p.tensor.grad().defined()) p.tensor.mutable_grad().reset();
  }
  adamw_->step();
}

std::map<std::string, Optimizer::ParamState> Optimizer::state() const {
  std::map<std::string, ParamState> out;
  const auto& state = adamw_->state();
  for (const NamedParameter& p : params_) {
    const auto it = state.find(state_key(p.tensor));
    if (it == state.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    out[p.name] = ParamState{s.exp_avg(), s.exp_avg_sq(), s.step()};
  }
  return out;
}

void Optimizer::load_state(const std::map<std::string, ParamState>& state) {
  std::map<std::string, const NamedParameter*> by_name;
  for (const NamedParameter& p : params_) by_name[p.name] = &p;
  for (const auto& [name, s] : state) {
    const auto it = by_name.find(name);
    SY_CHECK(it != by_name.end()) << "optimizer state for unknown parameter " << name;
    const at::Tensor& p = it->second->tensor;
    SY_CHECK(s.exp_avg.sizes() == p.sizes()) << name;
    auto st = std::make_unique<torch::optim::AdamWParamState>();
    st->step(s.step);
    st->exp_avg(s.exp_avg.to(p.scalar_type()).clone());
    st->exp_avg_sq(s.exp_avg_sq.to(p.scalar_type()).clone());
    adamw_->state()[state_key(p)] = std::move(st);
  }
}

}  // namespace switchyard::train
