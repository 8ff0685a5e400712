#include "models/moe/aux_losses.h"

#include <numeric>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/routing_groups.h"

namespace switchyard::models {
namespace {

// float32 for the router math; float64 stays float64 (finite-difference tests).
at::Tensor to_router_float(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? t : t.to(at::kFloat);
}

}  // namespace

at::Tensor group_index(int64_t num_tokens,
                       const std::vector<int64_t>& group_sizes,
                       at::Device device) {
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor repeats = at::tensor(sizes, at::kLong).to(device);  // [G]
  // [T]: group of each token.
  return at::repeat_interleave(at::arange(static_cast<int64_t>(sizes.size()), lopt), repeats,
                               /*dim=*/0, num_tokens);
}

std::vector<int64_t> sequence_groups(int64_t num_tokens, int64_t seq_len) {
  SY_CHECK(seq_len > 0 && num_tokens % seq_len == 0)
      << "tokens " << num_tokens << " are not a whole number of sequences of " << seq_len;
  return std::vector<int64_t>(static_cast<size_t>(num_tokens / seq_len), seq_len);
}

at::Tensor load_balancing_loss(const at::Tensor& scores,
                               const at::Tensor& balance_ids,
                               int64_t k,
                               const std::vector<int64_t>& group_sizes) {
  SY_CHECK_EQ(scores.dim(), 2) << "scores must be [T, E]";
  SY_CHECK_EQ(balance_ids.size(0), scores.size(0)) << "balance_ids must be [T, k]";
  SY_CHECK_GT(k, 0);
  const int64_t num_tokens = scores.size(0);
  const int64_t num_experts = scores.size(1);
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto num_groups = static_cast<int64_t>(sizes.size());
  at::Tensor gid = group_index(num_tokens, sizes, scores.device());  // [T]

  at::Tensor s = to_router_float(scores);
  at::Tensor p = s / s.sum(-1, /*keepdim=*/true).clamp_min(1e-20);  // [T, E] per-token normalized
  // [G, E] sum of p over the tokens of each group.
  at::Tensor p_sum = at::zeros({num_groups, num_experts}, p.options()).index_add(0, gid, p);

  // [G, E] assignment counts (no gradient).
  at::Tensor ids = balance_ids.to(at::kLong);          // [T, k']
  at::Tensor gid_k = gid.unsqueeze(1).expand_as(ids);  // [T, k']
  at::Tensor valid = ids.ge(0);
  at::Tensor flat = (gid_k * num_experts + ids.clamp_min(0)).masked_select(valid);  // [n]
  at::Tensor counts = at::bincount(flat, {}, num_groups * num_experts)
                          .to(p.scalar_type())
                          .view({num_groups, num_experts});  // [G, E]

  at::Tensor t =
      at::tensor(sizes, at::kLong).to(p.device(), p.scalar_type()).clamp_min(1.0);  // [G]
  // [G]: E / (k T_g^2) * sum_i P_sum[g, i] * count[g, i]
  at::Tensor per_group =
      (p_sum * counts).sum(1) * static_cast<double>(num_experts) / (t * t * static_cast<double>(k));
  return mean_over_nonempty_groups(per_group, sizes);
}

at::Tensor sequence_load_balancing_loss(const at::Tensor& scores,
                                        const at::Tensor& balance_ids,
                                        int64_t k,
                                        int64_t seq_len) {
  return load_balancing_loss(scores, balance_ids, k, sequence_groups(scores.size(0), seq_len));
}

at::Tensor z_loss(const at::Tensor& logits, const std::vector<int64_t>& group_sizes) {
  SY_CHECK_EQ(logits.dim(), 2) << "logits must be [T, E]";
  const int64_t num_tokens = logits.size(0);
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto num_groups = static_cast<int64_t>(sizes.size());
  at::Tensor lse = at::logsumexp(to_router_float(logits), {1});  // [T]
  at::Tensor sq_sum =
      at::zeros({num_groups}, lse.options())
          .index_add(0, group_index(num_tokens, sizes, lse.device()), lse * lse);  // [G]
  at::Tensor t =
      at::tensor(sizes, at::kLong).to(lse.device(), lse.scalar_type()).clamp_min(1.0);  // [G]
  return mean_over_nonempty_groups(sq_sum / t, sizes);
}

}  // namespace switchyard::models
