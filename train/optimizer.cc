#include "train/optimizer.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/core/GradMode.h>

#include "core/check.h"

namespace switchyard::train {
namespace {

struct AdamWStep {
  double lr;
  double weight_decay;
  double beta1;
  double beta2;
  double epsilon;
  double grad_scale;
  int64_t step;  // the step being taken, 1-based
};

// One fused pass: LibTorch's AdamW arithmetic (in T, the constants rounded to T like its scalar
// ops) on raw contiguous buffers of n elements. Multiplying by a decay or scale of exactly 1 is
// exact, so the loop has no branches and vectorizes.
template <typename T>
inline __attribute__((always_inline)) void adamw_body(
    T* p, const T* g, T* m, T* v, int64_t n, const AdamWStep& s) {
  const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T b1 = static_cast<T>(s.beta1);
  const T one_minus_b1 = static_cast<T>(1.0 - s.beta1);
  const T b2 = static_cast<T>(s.beta2);
  const T one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(s.beta2, s.step)));
  const T eps = static_cast<T>(s.epsilon);
  const T step_size = static_cast<T>(s.lr / (1.0 - std::pow(s.beta1, s.step)));
  const T scale = static_cast<T>(s.grad_scale);
  for (int64_t i = 0; i < n; ++i) {
    const T grad = g[i] * scale;
    const T mi = m[i] * b1 + grad * one_minus_b1;
    const T vi = v[i] * b2 + grad * grad * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
  }
}

// Compiled for AVX-512, AVX2 and the baseline, picked at load time (this file is built with
// -fno-math-errno -ffp-contract=off: vector sqrt, and the same results from every clone).
#if defined(__GNUC__) && defined(__x86_64__)
#define SY_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SY_VECTOR_CLONES
#endif

SY_VECTOR_CLONES void adamw_update(
    float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  adamw_body<float>(p, g, m, v, n, s);
}

SY_VECTOR_CLONES void adamw_update(
    double* p, const double* g, double* m, double* v, int64_t n, const AdamWStep& s) {
  adamw_body<double>(p, g, m, v, n, s);
}

// The same update in ATen tensor ops (any device, any floating dtype): the generic path.
void adamw_update_generic(
    at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamWStep& s) {
  const at::Tensor grad = s.grad_scale == 1.0 ? g : g * s.grad_scale;
  m.mul_(s.beta1).add_(grad, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(grad, grad, 1.0 - s.beta2);
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(s.beta2, s.step));
  const double step_size = s.lr / (1.0 - std::pow(s.beta1, s.step));
  const at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(s.epsilon);
  if (s.weight_decay != 0.0) p.mul_(1.0 - s.lr * s.weight_decay);
  p.addcdiv_(m, denom, -step_size);
}

}  // namespace

Optimizer::Optimizer(const std::vector<NamedParameter>& params, const OptimizerOptions& options)
    : options_(options) {
  for (const NamedParameter& p : params) {
    SY_CHECK(p.tensor.is_contiguous()) << "optimizer parameter " << p.name << " is not contiguous";
    SY_CHECK(p.tensor.scalar_type() == at::kFloat || p.tensor.scalar_type() == at::kDouble)
        << "optimizer parameter " << p.name << " must be float32 or float64";
    slots_.push_back(Slot{p, p.tensor.dim() >= 2 ? options.weight_decay : 0.0, {}});
  }
}

void Optimizer::set_learning_rate(double lr) { options_.learning_rate = lr; }

void Optimizer::zero_grad() {
  for (Slot& s : slots_) {
    if (s.param.tensor.grad().defined()) s.param.tensor.mutable_grad().reset();
  }
}

void Optimizer::step(double grad_scale) {
  for (Slot& slot : slots_) {
    at::Tensor& p = slot.param.tensor;
    // Frozen parameters (requires_grad = false, e.g. StableMoE's stage-2 distilled router) are
    // skipped even if the synchronizer filled in a gradient.
    if (!p.requires_grad() || !p.grad().defined()) continue;
    const at::Tensor grad = p.grad().contiguous();
    SY_CHECK(grad.scalar_type() == p.scalar_type()) << slot.param.name << " gradient dtype";
    ParamState& st = slot.state;
    if (!st.exp_avg.defined()) {
      st.exp_avg = at::zeros_like(p, at::MemoryFormat::Contiguous);
      st.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Contiguous);
    }
    ++st.step;
    const AdamWStep s{options_.learning_rate, slot.weight_decay, options_.beta1, options_.beta2,
                      options_.epsilon,       grad_scale,        st.step};
    if (!options_.fused_cpu || !p.device().is_cpu()) {
      c10::AutoGradMode no_grad(false);  // in-place updates of leaves that require grad
      adamw_update_generic(p, grad, st.exp_avg, st.exp_avg_sq, s);
      continue;
    }
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_update", [&] {
      adamw_update(p.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                   st.exp_avg.data_ptr<scalar_t>(), st.exp_avg_sq.data_ptr<scalar_t>(), p.numel(),
                   s);
    });
  }
}

std::map<std::string, Optimizer::ParamState> Optimizer::state() const {
  std::map<std::string, ParamState> out;
  for (const Slot& s : slots_) {
    if (s.state.exp_avg.defined()) out[s.param.name] = s.state;
  }
  return out;
}

void Optimizer::load_state(const std::map<std::string, ParamState>& state) {
  std::map<std::string, Slot*> by_name;
  for (Slot& s : slots_) by_name[s.param.name] = &s;
  for (const auto& [name, s] : state) {
    const auto it = by_name.find(name);
    SY_CHECK(it != by_name.end()) << "optimizer state for unknown parameter " << name;
    const at::Tensor& p = it->second->param.tensor;
    SY_CHECK(s.exp_avg.sizes() == p.sizes() && s.exp_avg_sq.sizes() == p.sizes())
        << "optimizer state shape of " << name;
    ParamState& st = it->second->state;
    st.step = s.step;
    st.exp_avg = s.exp_avg.to(p.scalar_type()).contiguous().clone();
    st.exp_avg_sq = s.exp_avg_sq.to(p.scalar_type()).contiguous().clone();
  }
}

}  // namespace switchyard::train
