// Expert-Router Coupling loss (Lv et al., arXiv 2512.23447, Eq. 1-4 and Fig. 8; ALGORITHMS.md §2).
#include "models/moe/erc_loss.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "comm/all_gather_function.h"
#include "core/check.h"
#include "models/moe/router_noise.h"

namespace switchyard::models {
namespace {

// Seed stream of the ERC noise, distinct from the router noise streams of the same call seed.
constexpr uint64_t kErcNoiseStream = 0x455243;  // "ERC"

// float32 router math; float64 stays float64 (finite-difference tests).
at::Tensor to_router_float(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? t : t.to(at::kFloat);
}

}  // namespace

at::Tensor erc_noise_levels(const at::Tensor& router_weight) {
  SY_CHECK_EQ(router_weight.dim(), 2) << "router weight must be [n, d]";
  at::NoGradGuard no_grad;
  at::Tensor r = to_router_float(router_weight.detach());  // [n, d]
  const int64_t n = r.size(0);
  if (n < 2) return at::zeros({n}, r.options());
  at::Tensor dist = at::cdist(r, r);  // [n, n] ||R_i - R_j||
  dist = dist + at::diag(at::full({n}, std::numeric_limits<double>::infinity(), r.options()));
  at::Tensor nearest = std::get<0>(dist.min(1));             // [n] min over j != i
  return nearest / (2.0 * r.norm(2, {1}).clamp_min(1e-30));  // [n]
}

at::Tensor erc_proxy_tokens(const at::Tensor& router_weight, uint64_t seed, bool noise) {
  at::Tensor r = to_router_float(router_weight);  // [n, d]
  if (!noise) return r;
  at::Tensor eps = erc_noise_levels(r).unsqueeze(1);  // [n, 1]
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, kErcNoiseStream, 0));
  at::Tensor u = at::rand({r.size(0), r.size(1)}, gen, at::kFloat)
                     .to(r.device(), r.scalar_type());  // [n, d] drawn on the host
  at::Tensor delta = (1.0 - eps) + 2.0 * eps * u;  // [n, d] ~ U(1 - eps_i, 1 + eps_i), constant
  return r * delta;
}

at::Tensor erc_first_projection(ExpertKind kind, const at::Tensor& w1) {
  SY_CHECK_EQ(w1.dim(), 3) << "w1 must be [L, d, F1]";
  if (kind == ExpertKind::kGeluMlp) return w1;  // W_1 of a non-gated expert (UNVERIFIED ext.)
  return w1.narrow(2, 0, w1.size(2) / 2);       // SwiGLU gate W_g: [L, d, D] of [Wg | Wp]
}

at::Tensor erc_coupling_block(const at::Tensor& proxy, const at::Tensor& projection) {
  SY_CHECK_EQ(proxy.dim(), 2) << "proxy tokens must be [n, d]";
  SY_CHECK_EQ(projection.dim(), 3) << "projection must be [L, d, D]";
  SY_CHECK_EQ(proxy.size(1), projection.size(1)) << "proxy and projection hidden sizes";
  at::Tensor w = projection.to(proxy.scalar_type());
  at::Tensor act = at::einsum("nd,ldf->nlf", {proxy, w});  // [n, L, D] proxy i through expert l
  return at::linalg_vector_norm(act, 2, {2});              // [n, L]
}

at::Tensor erc_loss_from_matrix(const at::Tensor& matrix, double alpha) {
  SY_CHECK(matrix.dim() == 2 && matrix.size(0) == matrix.size(1)) << "M must be [n, n]";
  const int64_t n = matrix.size(0);
  at::Tensor diag = matrix.diagonal();                                       // [n] M[i, i]
  at::Tensor row = at::relu(matrix - alpha * diag.unsqueeze(1));             // M[i,j] - a M[i,i]
  at::Tensor col = at::relu(matrix - alpha * diag.unsqueeze(0));             // M[j,i] - a M[i,i]
  at::Tensor off = 1.0 - at::eye(n, matrix.options().requires_grad(false));  // [n, n]
  return ((row + col) * off).sum() / static_cast<double>(n * n);
}

std::vector<std::pair<std::string, double>> erc_matrix_stats(const at::Tensor& matrix,
                                                             double alpha) {
  at::Tensor m = matrix.detach().to(at::kDouble);  // [n, n]
  const int64_t n = m.size(0);
  at::Tensor diag = m.diagonal();                  // [n]
  at::Tensor off = 1.0 - at::eye(n, m.options());  // [n, n]
  const double pairs = static_cast<double>(std::max<int64_t>(n * (n - 1), 1));
  at::Tensor row_v = (m > alpha * diag.unsqueeze(1)).to(at::kDouble) * off;
  at::Tensor col_v = (m > alpha * diag.unsqueeze(0)).to(at::kDouble) * off;
  return {{"erc/diag_mean", diag.mean().item<double>()},
          {"erc/offdiag_mean", (m * off).sum().item<double>() / pairs},
          {"erc/row_violations", row_v.sum().item<double>() / pairs},
          {"erc/col_violations", col_v.sum().item<double>() / pairs}};
}

ExpertRouterCouplingLoss::ExpertRouterCouplingLoss(const ErcOptions& options,
                                                   ExpertKind expert_kind,
                                                   std::shared_ptr<comm::Communicator> expert_group)
    : options_(options), expert_kind_(expert_kind), expert_group_(std::move(expert_group)) {
  SY_CHECK(options.alpha >= 0.0) << "ERC alpha " << options.alpha;
}

ErcResult ExpertRouterCouplingLoss::compute(const at::Tensor& router_weight,
                                            const at::Tensor& w1,
                                            uint64_t seed) const {
  SY_CHECK(router_weight.defined()) << "the ERC loss needs a router with a learned weight [E, H]";
  at::Tensor proxy = erc_proxy_tokens(router_weight, seed, options_.noise);  // [n, d]
  if (!options_.router_gradient) proxy = proxy.detach();
  at::Tensor block = erc_coupling_block(proxy, erc_first_projection(expert_kind_, w1));  // [n, L]
  const int64_t n = block.size(0);
  const int64_t local = block.size(1);
  at::Tensor matrix = block;  // [n, n] when single process
  if (expert_group_ != nullptr && expert_group_->size() > 1) {
    const int64_t p = expert_group_->size();
    // [n, L] per EP rank -> [P * n, L] in rank order -> [n, P * L] (column p * L + l).
    at::Tensor gathered = comm::all_gather_autograd(expert_group_, block);
    matrix = gathered.view({p, n, local}).permute({1, 0, 2}).reshape({n, p * local});
  }
  SY_CHECK_EQ(matrix.size(1), n) << "experts of the coupling matrix vs router rows";
  ErcResult result;
  result.loss = erc_loss_from_matrix(matrix, options_.alpha);
  result.matrix = matrix.detach();
  return result;
}

}  // namespace switchyard::models
