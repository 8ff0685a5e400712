#include "models/moe/routers/locmoe_math.h"

#include <cmath>
#include <numeric>

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {

at::Tensor grouped_average_pooling_logits(const at::Tensor& x, int64_t num_experts) {
  SY_CHECK_EQ(x.dim(), 2) << "GrAP input must be [T, d]";
  const int64_t d = x.size(1);
  SY_CHECK(num_experts > 0 && d % num_experts == 0)
      << "GrAP needs hidden size " << d << " divisible by the experts " << num_experts;
  // [T, d] -> [T, E, d / E] -> mean over the group -> [T, E]
  return x.reshape({x.size(0), num_experts, d / num_experts}).mean(-1);
}

at::Tensor grap_gating_matrix(int64_t num_experts, int64_t hidden_size) {
  SY_CHECK(num_experts > 0 && hidden_size % num_experts == 0) << "GrAP: E must divide d";
  const int64_t group = hidden_size / num_experts;
  at::Tensor w = at::zeros({num_experts, hidden_size}, at::kFloat);  // [E, d]
  for (int64_t i = 0; i < num_experts; ++i) {
    w[i].narrow(0, i * group, group).fill_(1.0 / static_cast<double>(group));
  }
  return w;
}

at::Tensor locality_loss(const at::Tensor& log_scores,
                         int64_t num_nodes,
                         const std::vector<int64_t>& group_sizes,
                         const std::vector<int64_t>& group_nodes) {
  SY_CHECK_EQ(log_scores.dim(), 2) << "log scores must be [T, E]";
  const int64_t num_tokens = log_scores.size(0);
  const int64_t num_experts = log_scores.size(1);
  SY_CHECK(num_nodes > 0 && num_experts % num_nodes == 0) << "E must be divisible by the nodes";
  const int64_t per_node = num_experts / num_nodes;
  std::vector<int64_t> sizes = group_sizes;
  if (sizes.empty()) sizes.push_back(num_tokens);
  SY_CHECK(group_nodes.empty() || group_nodes.size() == sizes.size())
      << "one node per routing group";
  at::Tensor logp =
      log_scores.scalar_type() == at::kDouble ? log_scores : log_scores.to(at::kFloat);  // [T, E]
  std::vector<at::Tensor> per_group;
  int64_t start = 0;
  for (size_t g = 0; g < sizes.size(); ++g) {
    const int64_t n = sizes[g];
    if (n > 0) {
      const int64_t node = group_nodes.empty() ? 0 : group_nodes[g];
      SY_CHECK(node >= 0 && node < num_nodes) << "group node " << node;
      // log pbar_i = logsumexp_t log p_{t,i} - log n, for the node's experts: [M]
      at::Tensor local = logp.narrow(0, start, n).narrow(1, node * per_node, per_node);  // [n, M]
      at::Tensor log_pbar = at::logsumexp(local, 0) - std::log(static_cast<double>(n));  // [M]
      const double u = 1.0 / static_cast<double>(per_node);  // p_local on the node
      // KL(p_local || pbar) = sum_{i local} u (log u - log pbar_i)
      per_group.push_back((u * (std::log(u) - log_pbar)).sum());
    }
    start += n;
  }
  SY_CHECK_EQ(start, num_tokens) << "group sizes must add up to the number of tokens";
  if (per_group.empty()) return logp.sum() * 0.0;
  return at::stack(per_group).mean();
}

double locmoe_p_delta(double delta, int64_t d) {
  SY_CHECK_GE(d, 2);
  SY_CHECK(delta >= 0.0 && delta <= 1.0) << "delta in [0, 1]";
  // Density of t = <u, w> on [-1, 1]: c (1 - t^2)^((d - 3) / 2). Simpson on [0, 1] after the
  // substitution t = sin(phi) (smooth integrand cos(phi)^(d - 2), also for d = 2).
  const double e = static_cast<double>(d) - 2.0;
  auto integral = [e](double lo, double hi) {
    const int n = 20000;  // even
    const double h = (hi - lo) / n;
    double s = 0.0;
    for (int i = 0; i <= n; ++i) {
      const double w = (i == 0 || i == n) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0);
      s += w * std::pow(std::cos(lo + i * h), e);
    }
    return s * h / 3.0;
  };
  const double half_pi = std::acos(0.0);
  const double total = integral(0.0, half_pi);
  return integral(std::asin(delta), half_pi) / total;
}

double locmoe_p_delta_erfc(double delta, int64_t d) {
  const double d2 = delta * delta;
  return std::erfc(std::sqrt(d2 * static_cast<double>(d) / (2.0 - d2)));
}

double locmoe_min_capacity_bound(int64_t num_experts, int64_t d, double delta) {
  SY_CHECK_GT(num_experts, 0);
  return 1.0 / (static_cast<double>(num_experts) * locmoe_p_delta_erfc(delta, d));
}

double locmoe_capacity_factor_bound(int64_t num_experts,
                                    int64_t d,
                                    double delta,
                                    bool share_of_assignments) {
  const double ec_min = locmoe_min_capacity_bound(num_experts, d, delta);
  return share_of_assignments ? ec_min * static_cast<double>(num_experts) : ec_min;
}

}  // namespace switchyard::models
