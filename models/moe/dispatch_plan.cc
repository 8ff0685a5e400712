#include "models/moe/dispatch_plan.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/capacity.h"
#include "models/moe/router_noise.h"

namespace switchyard::models {
namespace {

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kLong).contiguous();  // host copy of a device tensor
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Stable reorder of `perm` by key[perm] ascending.
at::Tensor stable_reorder(const at::Tensor& perm, const at::Tensor& key) {
  at::Tensor order = std::get<1>(at::sort(key.index_select(0, perm), /*stable=*/true, 0, false));
  return perm.index_select(0, order);
}

}  // namespace

at::Tensor capacity_keep_mask(const at::Tensor& expert_ids,
                              const at::Tensor& probs,
                              int64_t num_experts,
                              const CapacityOptions& capacity,
                              const std::vector<int64_t>& capacity_groups,
                              const RoutingContext& context,
                              std::vector<int64_t>* capacities) {
  const int64_t num_tokens = expert_ids.size(0);
  const int64_t slots = expert_ids.size(1);
  const int64_t num_assign = num_tokens * slots;
  at::Tensor ids = expert_ids.reshape({num_assign});  // [A], a = t * K + j
  at::Tensor valid = ids.ge(0);                       // [A]
  std::vector<int64_t> groups = capacity_groups;
  if (groups.empty()) groups.push_back(num_tokens);
  const auto num_groups = static_cast<int64_t>(groups.size());

  std::vector<int64_t> caps;
  for (int64_t n : groups) {
    caps.push_back(expert_capacity(capacity.capacity_factor, n, capacity.top_k, num_experts,
                                   capacity.min_capacity));
  }
  if (capacities != nullptr) *capacities = caps;
  if (num_assign == 0) return valid.view({num_tokens, slots});

  const auto lopt = ids.options().dtype(at::kLong);                     // on the routing's device
  at::Tensor token = at::arange(num_assign, lopt).div(slots, "floor");  // [A]
  at::Tensor slot = at::arange(num_assign, lopt).remainder(slots);      // [A]
  at::Tensor gid = group_index(num_tokens, groups, ids.device()).index_select(0, token);  // [A]
  // Position priority: all first choices before second choices, tokens in order.
  at::Tensor position = slot * num_tokens + token;  // [A]
  at::Tensor perm = std::get<1>(at::sort(position, /*stable=*/true, 0, false));
  if (capacity.drop_policy == DropPolicy::kProbs) {
    perm = stable_reorder(perm, probs.detach().reshape({num_assign}).to(at::kDouble).neg());
  } else if (capacity.drop_policy == DropPolicy::kRandom) {
    at::Tensor u = uniform_rows(context.seed, NoiseStream::kDropPriority, context.row_offset,
                                num_tokens, context.global_rows, slots)
                       .to(ids.device());  // [T, K]
    perm = stable_reorder(perm, u.reshape({num_assign}));
  }
  // Segment = (group, expert); empty slots go to a trailing segment that keeps nothing.
  const int64_t num_segments = num_groups * num_experts;
  at::Tensor segment = at::where(valid, gid * num_experts + ids.clamp_min(0),
                                 at::full({num_assign}, num_segments, lopt));  // [A]
  perm = stable_reorder(perm, segment);
  at::Tensor seg_sorted = segment.index_select(0, perm);               // [A]
  at::Tensor counts = at::bincount(seg_sorted, {}, num_segments + 1);  // [S + 1]
  at::Tensor starts = counts.cumsum(0) - counts;                       // [S + 1]
  at::Tensor rank_in_segment = at::arange(num_assign, lopt) - starts.index_select(0, seg_sorted);
  at::Tensor cap_of_group = at::tensor(caps, at::kLong).to(ids.device());           // [G]
  at::Tensor cap_sorted = cap_of_group.index_select(0, gid.index_select(0, perm));  // [A]
  at::Tensor keep_sorted = rank_in_segment.lt(cap_sorted) & valid.index_select(0, perm);
  at::Tensor keep = at::zeros({num_assign}, ids.options().dtype(at::kBool))
                        .index_put_({perm}, keep_sorted);  // [A]
  return keep.view({num_tokens, slots});
}

CapacityOptions effective_capacity(const CapacityOptions& layer, const RoutingResult& routing) {
  CapacityOptions c = layer;
  if (layer.capacity_factor <= 0.0 || routing.capacity_factor <= 0.0) return c;
  c.capacity_factor = routing.capacity_factor_floor
                          ? std::max(layer.capacity_factor, routing.capacity_factor)
                          : routing.capacity_factor;
  return c;
}

DispatchPlan make_dispatch_plan(const RoutingResult& routing,
                                int64_t num_experts,
                                const CapacityOptions& capacity,
                                const std::vector<int64_t>& capacity_groups,
                                const RoutingContext& context) {
  const at::Tensor& ids2d = routing.expert_ids;  // [T, K]
  SY_CHECK_EQ(ids2d.dim(), 2) << "expert_ids must be [T, K]";
  const int64_t num_tokens = ids2d.size(0);
  const int64_t slots = ids2d.size(1);
  DispatchPlan plan;
  plan.num_tokens = num_tokens;
  plan.num_experts = num_experts;
  at::Tensor valid = ids2d.ge(0);  // [T, K]
  plan.keep = capacity.capacity_factor > 0.0
                  ? capacity_keep_mask(ids2d, routing.probs, num_experts, capacity, capacity_groups,
                                       context, &plan.capacities)
                  : valid;

  at::Tensor weights2d = routing.probs * plan.keep.to(routing.probs.scalar_type());  // [T, K]
  if (routing.renormalize_after_drop) {
    weights2d = weights2d / weights2d.sum(-1, /*keepdim=*/true).clamp_min(1e-20);
  }
  const int64_t num_kept = plan.keep.sum().item<int64_t>();
  at::Tensor assign_ids = ids2d;       // [T, W] assignments dispatched (W = K, or K + 2)
  at::Tensor assign_keep = plan.keep;  // [T, W]
  at::Tensor assign_w = weights2d;     // [T, W]
  if (capacity.capacity_factor > 0.0 && capacity.rectify.enabled()) {
    Rectification r = rectify_assignments(routing, plan.keep, weights2d, num_experts,
                                          plan.capacities, capacity_groups, capacity.rectify);
    assign_ids = r.expert_ids;
    assign_keep = r.keep;
    assign_w = r.weights;
    plan.rectified = RectifiedAssignments{r.expert_ids.narrow(1, slots, 2),  // [T, 2]
                                          r.num_intra_rank, r.num_fill_in};
  }
  const int64_t width = assign_ids.size(1);
  at::Tensor ids = assign_ids.reshape({num_tokens * width});  // [A]
  at::Tensor kept =
      assign_keep.reshape({num_tokens * width}).nonzero().view({-1});  // [N] token-major
  at::Tensor kept_expert = ids.index_select(0, kept);                  // [N]
  at::Tensor order = std::get<1>(at::sort(kept_expert, /*stable=*/true, 0, false));
  at::Tensor assign = kept.index_select(0, order);  // [N] grouped by expert, token order inside
  plan.token_index = assign.div(width, "floor");    // [N]
  plan.weights = assign_w.reshape({num_tokens * width}).index_select(0, assign);  // [N]

  plan.tokens_per_expert = to_vector(at::bincount(kept_expert, {}, num_experts));  // host sync
  at::Tensor selected = ids2d.reshape({num_tokens * slots});                       // [K T]
  plan.selected_per_expert =
      to_vector(at::bincount(selected.masked_select(selected.ge(0)), {}, num_experts));
  for (int64_t c : plan.selected_per_expert) plan.num_selected += c;
  plan.num_dropped = plan.num_selected - num_kept;
  return plan;
}

}  // namespace switchyard::models
