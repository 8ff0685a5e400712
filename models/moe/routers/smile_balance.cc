#include "models/moe/routers/smile_balance.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/global_counts.h"
#include "models/moe/routing_groups.h"

namespace switchyard::models {

at::Tensor smile_local_balance_loss(const at::Tensor& r,
                                    const at::Tensor& node,
                                    const at::Tensor& local,
                                    int64_t num_nodes,
                                    const std::vector<int64_t>& group_sizes) {
  SY_CHECK_EQ(r.dim(), 2) << "local probabilities must be [T, M]";
  const int64_t num_tokens = r.size(0);
  const int64_t m = r.size(1);
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto groups = static_cast<int64_t>(sizes.size());
  const int64_t segments = groups * num_nodes;
  at::Tensor p = r.to(at::kFloat);  // [T, M]
  at::Tensor seg =
      group_index(num_tokens, sizes, r.device()) * num_nodes + node.to(at::kLong);  // [T]
  at::Tensor t_seg = at::bincount(seg, {}, segments).to(at::kFloat);                // [S]
  at::Tensor f = at::bincount(seg * m + local.to(at::kLong), {}, segments * m)
                     .to(at::kFloat)
                     .view({segments, m});                                        // [S, M] counts
  at::Tensor p_sum = at::zeros({segments, m}, p.options()).index_add(0, seg, p);  // [S, M]
  at::Tensor denom = t_seg.clamp_min(1.0).unsqueeze(1);                           // [S, 1]
  // [S] M * sum_b f P per (group, node); 0 for a node that gets none of the group's tokens.
  at::Tensor per_seg = (f / denom * (p_sum / denom)).sum(1) * static_cast<double>(m);
  at::Tensor t_g = at::tensor(sizes, at::kLong).to(r.device(), at::kFloat).clamp_min(1.0);  // [G]
  at::Tensor per_group =
      (per_seg * t_seg).view({groups, num_nodes}).sum(1) / t_g;  // [G] token-weighted over nodes
  return mean_over_nonempty_groups(per_group, sizes);
}

at::Tensor smile_receiver_capacity_keep(const at::Tensor& node,
                                        const at::Tensor& local,
                                        int64_t num_nodes,
                                        int64_t experts_per_node,
                                        double capacity_factor,
                                        const std::vector<int64_t>& group_sizes,
                                        comm::Communicator* count_group,
                                        int64_t* dropped_level1,
                                        int64_t* dropped_level2) {
  const int64_t num_tokens = node.size(0);
  const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, group_sizes);
  const auto groups = static_cast<int64_t>(sizes.size());
  const int64_t e = num_nodes * experts_per_node;
  at::Tensor a = node.to(at::kLong).contiguous();                  // [T] on node's device
  at::Tensor gid = group_index(num_tokens, sizes, node.device());  // [T]
  // Level 1 at the source: per (group, node) at most ceil(cf T_g / N), in token order: a
  // sequential scan on the host (one copy each way for device tensors).
  at::Tensor kept1_host = at::zeros({num_tokens}, at::kBool);  // [T]
  {
    const at::Tensor a_host = a.to(at::kCPU);
    const int64_t* pa = a_host.data_ptr<int64_t>();
    bool* pk = kept1_host.data_ptr<bool>();
    int64_t start = 0;
    for (int64_t size : sizes) {
      const auto cap = static_cast<int64_t>(std::ceil(
          capacity_factor * static_cast<double>(size) / static_cast<double>(num_nodes) - 1e-9));
      std::vector<int64_t> used(static_cast<size_t>(num_nodes), 0);
      for (int64_t i = start; i < start + size; ++i) {
        int64_t& u = used[static_cast<size_t>(pa[i])];
        if (u < cap) {
          ++u;
          pk[i] = true;
        }
      }
      start += size;
    }
  }
  const at::Tensor kept1 = kept1_host.to(node.device());  // [T]
  // Level 2 at the receiver: counts of the level-1 survivors per (group, expert), all groups.
  at::Tensor expert =
      at::where(kept1, a * experts_per_node + local.to(at::kLong), at::full_like(a, -1));  // [T]
  at::Tensor local_counts =
      at::bincount((gid * e + expert).masked_select(kept1), {}, groups * e).view({groups, e});
  const GatheredCounts gathered = gather_group_counts(local_counts, count_group);  // [G_all, E]
  at::Tensor t_node = gathered.counts.sum(0).view({num_nodes, experts_per_node}).sum(1);  // [N]
  at::Tensor cap =
      (t_node.to(at::kDouble) * capacity_factor / static_cast<double>(experts_per_node) - 1e-9)
          .ceil()
          .to(at::kLong)
          .repeat_interleave(experts_per_node);                         // [E]
  at::Tensor keep = keep_in_arrival_order(expert, gid, gathered, cap);  // [T]
  if (dropped_level1 != nullptr) *dropped_level1 = num_tokens - kept1.sum().item<int64_t>();
  if (dropped_level2 != nullptr) {
    *dropped_level2 = (kept1 & keep.logical_not()).sum().item<int64_t>();
  }
  return keep;
}

}  // namespace switchyard::models
