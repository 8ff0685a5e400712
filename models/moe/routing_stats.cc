#include "models/moe/routing_stats.h"

#include "models/moe/aux_losses.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace switchyard::models {

RoutingStats compute_routing_stats(const RoutingResult& routing, const DispatchPlan& plan) {
  RoutingStats s;
  s.tokens_per_expert = plan.selected_per_expert;
  s.kept_per_expert = plan.tokens_per_expert;
  if (plan.rectified.has_value() && routing.expert_ids.numel() > 0) {
    // The plan's rows include the Rectify-Router assignments: count the router's own kept ones.
    at::Tensor ids = routing.expert_ids.masked_select(plan.keep & routing.expert_ids.ge(0));
    at::Tensor kept = at::bincount(ids, {}, plan.num_experts).to(at::kCPU).contiguous();  // [E]
    s.kept_per_expert.assign(kept.data_ptr<int64_t>(), kept.data_ptr<int64_t>() + kept.numel());
  }
  s.num_tokens = plan.num_tokens;
  s.router_metrics = routing.metrics;
  s.dropped_fraction = plan.num_selected > 0 ? static_cast<double>(plan.num_dropped) /
                                                   static_cast<double>(plan.num_selected)
                                             : 0.0;
  if (plan.num_tokens > 0 && routing.scores.defined()) {
    at::Tensor p = routing.scores.detach().to(at::kDouble);  // [T, E]
    p = p / p.sum(-1, /*keepdim=*/true).clamp_min(1e-300);
    s.router_entropy = (-(p * p.clamp_min(1e-300).log()).sum(-1)).mean().item<double>();
  }
  const auto num_experts = static_cast<double>(s.tokens_per_expert.size());
  if (num_experts > 0) {
    double sum = 0.0;
    double max = 0.0;
    for (int64_t c : s.tokens_per_expert) {
      sum += static_cast<double>(c);
      max = std::max(max, static_cast<double>(c));
    }
    s.mean_load = sum / num_experts;
    s.max_load = max;
    double var = 0.0;
    for (int64_t c : s.tokens_per_expert) {
      var += (static_cast<double>(c) - s.mean_load) * (static_cast<double>(c) - s.mean_load);
    }
    var /= num_experts;
    s.coefficient_of_variation = s.mean_load > 0.0 ? std::sqrt(var) / s.mean_load : 0.0;
  }
  if (plan.rectified.has_value()) {
    // Rectify-Router: tokens with an intra-rank assignment and filled slots, per token.
    const double t = plan.num_tokens > 0 ? static_cast<double>(plan.num_tokens) : 1.0;
    s.router_metrics.emplace_back("rectify/intra_rank_per_token",
                                  static_cast<double>(plan.rectified->num_intra_rank) / t);
    s.router_metrics.emplace_back("rectify/fill_in_per_token",
                                  static_cast<double>(plan.rectified->num_fill_in) / t);
  }
  return s;
}

void count_cross_node_rows(const DispatchPlan& plan,
                           const std::vector<int64_t>& group_sizes,
                           const std::vector<int64_t>& group_nodes,
                           int64_t num_nodes,
                           RoutingStats* stats) {
  const int64_t rows = plan.token_index.defined() ? plan.token_index.numel() : 0;
  stats->dispatched_rows = rows;
  stats->cross_node_rows = 0;
  if (rows == 0 || num_nodes <= 1 || plan.num_experts % num_nodes != 0) return;
  const int64_t per_node = plan.num_experts / num_nodes;
  // [N] expert of every kept row (rows are grouped by expert).
  at::Tensor expert = at::repeat_interleave(at::arange(plan.num_experts, at::kLong),
                                            at::tensor(plan.tokens_per_expert, at::kLong));
  at::Tensor nodes =
      group_nodes.empty() ? at::zeros({1}, at::kLong) : at::tensor(group_nodes, at::kLong);  // [G]
  at::Tensor token_group = group_nodes.size() <= 1
                               ? at::zeros({plan.num_tokens}, at::kLong)
                               : group_index(plan.num_tokens, group_sizes, at::kCPU);  // [T]
  // Host statistics: the kept rows' tokens copied from the device once.
  at::Tensor source_node =
      nodes.index_select(0, token_group.index_select(0, plan.token_index.to(at::kCPU)));  // [N]
  stats->cross_node_rows = expert.div(per_node, "floor").ne(source_node).sum().item<int64_t>();
}

}  // namespace switchyard::models
