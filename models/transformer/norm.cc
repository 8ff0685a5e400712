#include "models/transformer/norm.h"

#include <ATen/ATen.h>

namespace switchyard::models {

NormImpl::NormImpl(NormKind kind, int64_t dim, double eps) : kind_(kind), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({dim}));
  if (kind_ == NormKind::kLayerNorm) bias_ = register_parameter("bias", at::zeros({dim}));
}

at::Tensor NormImpl::forward(const at::Tensor& x) {
  if (kind_ == NormKind::kLayerNorm) {
    return at::layer_norm(x, {x.size(-1)}, weight_, bias_, eps_);
  }
  // x / sqrt(mean(x^2) + eps) * weight, statistics in float32.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor inv = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_);  // [..., 1]
  return (xf * inv).to(x.scalar_type()) * weight_;
}

}  // namespace switchyard::models
