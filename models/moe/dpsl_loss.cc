#include "models/moe/dpsl_loss.h"

#include <algorithm>
#include <numeric>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/check.h"
#include "models/moe/incomplete_beta.h"

namespace switchyard::models {
namespace {

// Loss of one group and its gradient, in double. p: [N, E] contiguous double; grad: same shape
// (written). Returns L_DPSL of the group.
double group_loss_and_grad(const at::Tensor& p, const DirichletPrior& prior, at::Tensor* grad) {
  const int64_t n = p.size(0);
  const int64_t e = p.size(1);
  double total_alpha = 0;
  for (int64_t k = 0; k < e; ++k) total_alpha += prior.concentration(k, e);
  const double* pd = p.data_ptr<double>();
  double* gd = grad != nullptr ? grad->data_ptr<double>() : nullptr;
  std::vector<int64_t> order(static_cast<size_t>(n));
  double loss = 0;
  for (int64_t k = 0; k < e; ++k) {
    const double a = prior.concentration(k, e);
    const double b = total_alpha - a;  // Beta(alpha_k, A - alpha_k) marginal
    std::iota(order.begin(), order.end(), int64_t{0});
    // Ascending; ties keep token order (stable), the permutation is a constant for the backward.
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t i, int64_t j) { return pd[i * e + k] < pd[j * e + k]; });
    double lk = 0;
    for (int64_t m = 0; m < n; ++m) {
      const int64_t t = order[static_cast<size_t>(m)];
      const double x = pd[t * e + k];
      const double diff = static_cast<double>(m + 1) / static_cast<double>(n + 1) -
                          regularized_incomplete_beta(x, a, b);
      lk += diff * diff;
      if (gd != nullptr) {
        const double pdf = std::clamp(beta_pdf(x, a, b), prior.pdf_min, prior.pdf_max);
        // d(L_k / E)/dp = -(2/N) diff pdf / E
        gd[t * e + k] = -2.0 * diff * pdf / static_cast<double>(n) / static_cast<double>(e);
      }
    }
    loss += lk / static_cast<double>(n);
  }
  return loss / static_cast<double>(e);
}

// The scalar and its gradient, saved by forward and scaled by backward.
struct PrecomputedGradientLoss : public torch::autograd::Function<PrecomputedGradientLoss> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& input,
                            double loss,
                            const at::Tensor& grad) {
    ctx->saved_data["grad"] = grad;
    return at::full({}, loss, input.options().requires_grad(false));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    at::Tensor grad = ctx->saved_data["grad"].toTensor();  // like input
    return {grad * grad_out[0], at::Tensor(), at::Tensor()};
  }
};

}  // namespace

double DirichletPrior::concentration(int64_t k, int64_t num_experts) const {
  SY_CHECK(alpha.size() == 1 || static_cast<int64_t>(alpha.size()) == num_experts)
      << "Dirichlet prior has " << alpha.size() << " concentrations for " << num_experts
      << " experts";
  return alpha.size() == 1 ? alpha[0] : alpha[static_cast<size_t>(k)];
}

at::Tensor dpsl_loss(const at::Tensor& probs,
                     const DirichletPrior& prior,
                     const std::vector<int64_t>& group_sizes) {
  SY_CHECK_EQ(probs.dim(), 2) << "DPSL probabilities must be [T, E]";
  SY_CHECK_GT(probs.size(1), 1) << "DPSL needs at least two experts";
  const int64_t num_tokens = probs.size(0);
  // The sort and the incomplete beta run on the host: one copy of [T, E] each way.
  at::Tensor p = probs.detach().to(at::kCPU, at::kDouble).contiguous();  // [T, E]
  at::Tensor grad = at::zeros_like(p);                                   // [T, E]
  std::vector<int64_t> sizes = group_sizes;
  if (sizes.empty()) sizes = {num_tokens};
  SY_CHECK_EQ(std::accumulate(sizes.begin(), sizes.end(), int64_t{0}), num_tokens)
      << "group sizes must add up to the number of tokens";
  int64_t nonempty = 0;
  for (int64_t n : sizes) nonempty += n > 0 ? 1 : 0;
  double loss = 0;
  int64_t offset = 0;
  for (int64_t n : sizes) {
    if (n > 0) {
      at::Tensor g = grad.narrow(0, offset, n);  // [n, E] view, contiguous rows
      at::Tensor gc = at::empty_like(g);
      loss += group_loss_and_grad(p.narrow(0, offset, n).contiguous(), prior, &gc);
      g.copy_(gc);
    }
    offset += n;
  }
  if (nonempty > 0) {
    loss /= static_cast<double>(nonempty);
    grad.div_(static_cast<double>(nonempty));
  }
  return loss_with_precomputed_gradient(probs, loss, grad);
}

at::Tensor loss_with_precomputed_gradient(const at::Tensor& input, double loss, at::Tensor grad) {
  SY_CHECK(grad.sizes() == input.sizes()) << "the gradient must be shaped like the input";
  return PrecomputedGradientLoss::apply(input, loss, grad.to(input.device(), input.scalar_type()));
}

double dpsl_distance(const at::Tensor& probs, const DirichletPrior& prior) {
  SY_CHECK_EQ(probs.dim(), 2) << "DPSL probabilities must be [T, E]";
  if (probs.size(0) == 0) return 0.0;
  return group_loss_and_grad(probs.detach().to(at::kCPU, at::kDouble).contiguous(), prior, nullptr);
}

}  // namespace switchyard::models
