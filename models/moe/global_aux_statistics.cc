#include "models/moe/global_aux_statistics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "comm/communicator.h"
#include "comm/host_collectives.h"
#include "core/check.h"
#include "models/moe/incomplete_beta.h"

namespace switchyard::models {
namespace {

constexpr double kFixedScale = 4503599627370496.0;  // 2^52

// Probabilities as fixed-point integers (order-preserving at 2^-52 resolution).
at::Tensor to_fixed(const at::Tensor& p) {
  return (p.to(at::kDouble).clamp(0.0, 1.0) * kFixedScale).round().to(at::kLong);
}

}  // namespace

GlobalAuxStatistics gather_aux_statistics(const at::Tensor& local_counts,
                                          int64_t local_tokens,
                                          const at::Tensor& probs,
                                          comm::Communicator* group) {
  const int64_t e = local_counts.numel();
  // This rank's entries: [E counts, T, T * E fixed-point probabilities (when DPSL is on)].
  at::Tensor counts = local_counts.to(at::kCPU, at::kLong).reshape({e}).contiguous();  // host
  std::vector<int64_t> mine(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + e);
  mine.push_back(local_tokens);
  if (probs.defined()) {
    SY_CHECK_EQ(probs.size(0), local_tokens) << "one probability row per token";
    at::Tensor fixed = to_fixed(probs.detach()).to(at::kCPU).contiguous();  // [T, E] host
    mine.insert(mine.end(), fixed.data_ptr<int64_t>(), fixed.data_ptr<int64_t>() + fixed.numel());
  }
  std::vector<int64_t> all = mine;
  int ranks = 1;
  if (group != nullptr && group->size() > 1) {
    all = comm::all_gather(*group, mine);  // [W * per-rank entries], rank order
    ranks = group->size();
  }
  const auto per_rank = static_cast<int64_t>(mine.size());
  at::Tensor table = at::tensor(all, at::kLong).view({ranks, per_rank});  // [W, entries]
  GlobalAuxStatistics s;
  s.counts = table.narrow(1, 0, e).sum(0);              // [E]
  s.tokens = table.select(1, e).sum().item<int64_t>();  // scalar
  if (probs.defined()) {
    at::Tensor values = table.narrow(1, e + 1, local_tokens * e)
                            .reshape({ranks * local_tokens, e})
                            .to(at::kDouble) /
                        kFixedScale;               // [N, E]
    s.sorted_probs = std::get<0>(values.sort(0));  // [N, E] columns ascending
  }
  return s;
}

at::Tensor global_load_balancing_loss(const at::Tensor& scores,
                                      const GlobalAuxStatistics& stats,
                                      int64_t k) {
  const int64_t e = scores.size(1);
  at::Tensor f = stats.counts.to(scores.device(), at::kFloat) /
                 static_cast<double>(std::max<int64_t>(stats.tokens * k, 1));  // [E]
  at::Tensor p = scores.to(at::kFloat).mean(0);                                // [E]
  return (f * p).sum() * static_cast<double>(e);
}

at::Tensor global_dpsl_loss(const at::Tensor& probs,
                            const DirichletPrior& prior,
                            const GlobalAuxStatistics& stats) {
  SY_CHECK(stats.sorted_probs.defined()) << "global DPSL needs the gathered probabilities";
  SY_CHECK_EQ(probs.dim(), 2) << "DPSL probabilities must be [T, E]";
  const at::Tensor& sorted = stats.sorted_probs;  // [N, E] the step's values, columns ascending
  const int64_t t = probs.size(0);
  const int64_t e = probs.size(1);
  const int64_t n = sorted.size(0);
  // The CDF matching runs on the host: one copy of [T, E] each way for device tensors.
  at::Tensor p = probs.detach().to(at::kCPU, at::kDouble).contiguous();  // [T, E]
  // [T, E] global rank of every local value: #{step values <= p} per column.
  at::Tensor q = to_fixed(p).to(at::kDouble) / kFixedScale;  // [T, E]
  at::Tensor ranks = at::searchsorted(sorted.to(at::kCPU).t().contiguous(), q.t().contiguous(),
                                      /*out_int32=*/false, /*right=*/true)
                         .t()
                         .contiguous();  // [E, T] -> [T, E]
  at::Tensor grad = at::zeros_like(p);   // [T, E]
  const double* pd = p.data_ptr<double>();
  const int64_t* rd = ranks.data_ptr<int64_t>();
  double* gd = grad.data_ptr<double>();
  double total_alpha = 0;
  for (int64_t k = 0; k < e; ++k) total_alpha += prior.concentration(k, e);
  double loss = 0;
  for (int64_t k = 0; k < e; ++k) {
    const double a = prior.concentration(k, e);
    const double b = total_alpha - a;
    for (int64_t i = 0; i < t; ++i) {
      const double x = pd[i * e + k];
      const double diff = static_cast<double>(rd[i * e + k]) / static_cast<double>(n + 1) -
                          regularized_incomplete_beta(x, a, b);
      loss += diff * diff;
      const double pdf = std::clamp(beta_pdf(x, a, b), prior.pdf_min, prior.pdf_max);
      gd[i * e + k] = -2.0 * diff * pdf / static_cast<double>(t) / static_cast<double>(e);
    }
  }
  loss = t > 0 ? loss / static_cast<double>(t) / static_cast<double>(e) : 0.0;
  return loss_with_precomputed_gradient(probs, loss, grad);
}

}  // namespace switchyard::models
