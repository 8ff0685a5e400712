// Rectify-Router (Zeng et al., "Turn Waste into Worth: Rectifying Top-k Router of MoE",
// arXiv 2402.12399); ALGORITHMS.md §6.
#include "models/moe/rectify.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"

namespace switchyard::models {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Stable reorder of `perm` by key[perm] ascending.
at::Tensor stable_reorder(const at::Tensor& perm, const at::Tensor& key) {
  at::Tensor order = std::get<1>(at::sort(key.index_select(0, perm), /*stable=*/true, 0, false));
  return perm.index_select(0, order);
}

// [T, E] bool: expert e is among the token's ids where `on` ([T, K]) holds. Summed, not
// scattered, so the clamped empty slots (-1) cannot overwrite a set entry.
at::Tensor expert_mask(const at::Tensor& ids, const at::Tensor& on, int64_t num_experts) {
  return at::zeros({ids.size(0), num_experts}, ids.options().dtype(at::kLong))
      .scatter_add(1, ids.clamp_min(0), on.to(at::kLong))
      .gt(0);
}

// [T] EP rank holding each token (the token's own rank).
at::Tensor token_ep_rank(int64_t num_tokens,
                         const std::vector<int64_t>& groups,
                         const RectifyOptions& o,
                         at::Device device) {
  if (o.expert_parallel_rank >= 0) {
    return at::full({num_tokens}, o.expert_parallel_rank,
                    at::TensorOptions().dtype(at::kLong).device(device));
  }
  return group_index(num_tokens, groups, device).remainder(o.expert_parallel_size);
}

// [T] bool: within each segment (segment[t] in [0, S); S = none), the first limit[s] tokens in
// descending `score` (ties: earlier token) win.
at::Tensor first_in_segments(const at::Tensor& segment,  // [T] int64 in [0, S]
                             const at::Tensor& score,    // [T]
                             const at::Tensor& limit) {  // [S] int64
  const int64_t num_tokens = segment.size(0);
  const int64_t trailing = limit.size(0);
  const auto lopt = segment.options().dtype(at::kLong);  // on the routing's device
  at::Tensor perm = at::arange(num_tokens, lopt);
  perm = stable_reorder(perm, score.to(at::kDouble).neg());
  perm = stable_reorder(perm, segment);
  at::Tensor seg_sorted = segment.index_select(0, perm);           // [T]
  at::Tensor counts = at::bincount(seg_sorted, {}, trailing + 1);  // [S + 1]
  at::Tensor starts = counts.cumsum(0) - counts;                   // [S + 1]
  at::Tensor rank = at::arange(num_tokens, lopt) - starts.index_select(0, seg_sorted);
  at::Tensor limit_ext = at::cat({limit, at::zeros({1}, lopt)});           // [S + 1]
  at::Tensor won_sorted = rank.lt(limit_ext.index_select(0, seg_sorted));  // [T]
  return at::zeros({num_tokens}, segment.options().dtype(at::kBool)).index_put_({perm}, won_sorted);
}

// IR expert of every token ([T], -1 = none) and its multiplicity d ([T] int64). Never an expert
// that dropped the token; at most ceil(f * C_g) IR rows per (routing group, expert).
at::Tensor intra_rank_experts(const at::Tensor& logits,   // [T, E] detached
                              const at::Tensor& ids,      // [T, K]
                              const at::Tensor& keep,     // [T, K]
                              const at::Tensor& ep_rank,  // [T]
                              const std::vector<int64_t>& capacities,
                              const std::vector<int64_t>& groups,
                              const RectifyOptions& o,
                              at::Tensor* dropped) {
  const int64_t num_tokens = logits.size(0);
  const int64_t num_experts = logits.size(1);
  const int64_t local = num_experts / o.expert_parallel_size;
  *dropped = ids.ge(0).sum(1) - keep.sum(1);  // [T] k - |R_i|
  at::Tensor expert =
      at::arange(num_experts, ids.options().dtype(at::kLong)).unsqueeze(0);  // [1, E]
  at::Tensor lo = (ep_rank * local).unsqueeze(1);                            // [T, 1]
  at::Tensor allowed = expert.ge(lo) & expert.lt(lo + local);                // [T, E] local experts
  // The experts that dropped the token are full: sending it back would bypass the capacity.
  at::Tensor dropping = expert_mask(ids, keep.logical_not() & ids.ge(0), num_experts);  // [T, E]
  allowed = allowed & dropping.logical_not();
  if (o.intra_rank_exclude_kept) {
    at::Tensor kept = expert_mask(ids, keep & ids.ge(0), num_experts);  // [T, E]
    allowed = allowed & kept.logical_not();
  }
  at::Tensor masked = logits.masked_fill(allowed.logical_not(), -kInf);  // [T, E]
  auto [score, h] = masked.max(1);                                       // [T], [T]
  at::Tensor has = dropped->gt(0) & allowed.any(1);                      // [T]
  // Bound: per (group, expert) at most ceil(f * C_g) IR rows, highest logit first.
  const auto num_groups = static_cast<int64_t>(groups.size());
  std::vector<int64_t> limits;
  for (int64_t c : capacities) {
    const auto bound = static_cast<int64_t>(std::ceil(o.intra_rank_capacity_factor * c));
    limits.insert(limits.end(), num_experts, bound);
  }
  at::Tensor gid = group_index(num_tokens, groups, ids.device());  // [T]
  at::Tensor segment =
      at::where(has, gid * num_experts + h, at::full_like(h, num_groups * num_experts));  // [T]
  has = has & first_in_segments(segment, score, at::tensor(limits, at::kLong).to(ids.device()));
  return at::where(has, h, at::full_like(h, -1));
}

// FR expert of every token ([T], -1 = none).
at::Tensor fill_in_experts(const at::Tensor& logits,  // [T, E] detached
                           const at::Tensor& ids,     // [T, K]
                           const at::Tensor& keep,    // [T, K]
                           const std::vector<int64_t>& capacities,
                           const std::vector<int64_t>& groups) {
  const int64_t num_tokens = logits.size(0);
  const int64_t num_experts = logits.size(1);
  const auto num_groups = static_cast<int64_t>(groups.size());
  // Candidate: the best expert outside the token's top-k selection, the (k+1)-th choice.
  at::Tensor selected = expert_mask(ids, ids.ge(0), num_experts);  // [T, E]
  at::Tensor masked = logits.masked_fill(selected, -kInf);         // [T, E]
  auto [score, cand] = masked.max(1);                              // [T], [T]
  at::Tensor has = selected.logical_not().any(1);                  // [T]

  at::Tensor gid = group_index(num_tokens, groups, ids.device());  // [T]
  // [G, E] kept load of every (group, expert); free slots = C_g - load.
  at::Tensor kept_flat = (gid.unsqueeze(1).expand_as(ids) * num_experts + ids.clamp_min(0))
                             .masked_select(keep & ids.ge(0));  // [n]
  at::Tensor load = at::bincount(kept_flat, {}, num_groups * num_experts);
  at::Tensor cap =
      at::tensor(capacities, at::kLong).to(ids.device()).repeat_interleave(num_experts);  // [G * E]
  at::Tensor free = (cap - load).clamp_min(0);                                            // [G * E]

  // Order: segment (group, candidate), then score descending, then token order.
  const int64_t trailing = num_groups * num_experts;
  at::Tensor segment = at::where(has, gid * num_experts + cand, at::full_like(cand, trailing));
  at::Tensor fill = first_in_segments(segment, score, free);  // [T]
  return at::where(fill & has, cand, at::full_like(cand, -1));
}

Rectification finish(Rectification r, const at::Tensor& weights) {
  r.weights = weights * r.keep.to(at::kFloat);  // [T, K+2]
  return r;
}

}  // namespace

Rectification rectify_assignments(const RoutingResult& routing,
                                  const at::Tensor& keep,
                                  const at::Tensor& weights,
                                  int64_t num_experts,
                                  const std::vector<int64_t>& capacities,
                                  const std::vector<int64_t>& groups_in,
                                  const RectifyOptions& o) {
  const at::Tensor& ids = routing.expert_ids;  // [T, K]
  const int64_t num_tokens = ids.size(0);
  const int64_t slots = ids.size(1);
  SY_CHECK(routing.logits.defined()) << "Rectify-Router needs the router logits";
  SY_CHECK(o.expert_parallel_size >= 1 && num_experts % o.expert_parallel_size == 0)
      << "expert-parallel size " << o.expert_parallel_size << " vs " << num_experts << " experts";
  std::vector<int64_t> groups = groups_in;
  if (groups.empty()) groups.push_back(num_tokens);
  SY_CHECK_EQ(groups.size(), capacities.size()) << "one capacity per routing group";
  at::Tensor logits = routing.logits.to(at::kFloat);  // [T, E] differentiable
  at::Tensor a = logits.detach();                     // [T, E] for the decisions

  const auto lopt = ids.options().dtype(at::kLong);
  at::Tensor none = at::full({num_tokens}, -1, lopt);
  at::Tensor dropped = at::zeros({num_tokens}, lopt);
  at::Tensor h =
      o.intra_rank
          ? intra_rank_experts(a, ids, keep, token_ep_rank(num_tokens, groups, o, ids.device()),
                               capacities, groups, o, &dropped)
          : none;                                                                       // [T]
  at::Tensor f = o.fill_in ? fill_in_experts(a, ids, keep, capacities, groups) : none;  // [T]
  at::Tensor has_h = h.ge(0);                                                           // [T]
  at::Tensor has_f = f.ge(0);                                                           // [T]

  Rectification r;
  r.expert_ids = at::cat({ids, h.unsqueeze(1), f.unsqueeze(1)}, 1);     // [T, K+2]
  r.keep = at::cat({keep, has_h.unsqueeze(1), has_f.unsqueeze(1)}, 1);  // [T, K+2]
  r.num_intra_rank = has_h.sum().item<int64_t>();
  r.num_fill_in = has_f.sum().item<int64_t>();

  const auto fopt = logits.options();
  at::Tensor base = at::cat({weights.to(at::kFloat), at::zeros({num_tokens, 2}, fopt)}, 1);
  // Multiplicities m_j: accepted 1, IR d, FR 1 ([T, K+2]).
  at::Tensor mult = at::cat({keep.to(at::kFloat), (dropped * has_h).to(at::kFloat).unsqueeze(1),
                             has_f.to(at::kFloat).unsqueeze(1)},
                            1);
  if (!o.fill_in_renormalize) mult.select(1, slots + 1).zero_();
  at::Tensor ea = (logits - std::get<0>(a.max(1, /*keepdim=*/true)))
                      .exp()
                      .gather(1, r.expert_ids.clamp_min(0));  // [T, K+2] e^{a_ij - max}
  at::Tensor num = mult * ea;                                 // [T, K+2]
  // Straight-through: the denominator is a constant in backward.
  at::Tensor den = num.sum(1, /*keepdim=*/true).detach().clamp_min(1e-30);  // [T, 1]
  at::Tensor rect = num / den;                                              // [T, K+2]
  at::Tensor rectified = o.fill_in_renormalize ? (has_h | has_f) : has_h;   // [T]
  at::Tensor w = at::where(rectified.unsqueeze(1), rect, base);             // [T, K+2]
  if (!routing.normalized_weights) {
    // The router's weights do not sum to 1 (Switch top-1, sigmoid gates): a rectified expert
    // gets m_j * s_ij (its router score times its multiplicity), on the scale of every other
    // gate; accepted experts keep the router's weights.
    at::Tensor s = routing.scores.to(at::kFloat)
                       .gather(1, r.expert_ids.narrow(1, slots, 2).clamp_min(0));  // [T, 2]
    at::Tensor m =
        at::stack({(dropped * has_h).to(at::kFloat), has_f.to(at::kFloat)}, 1);  // [T, 2]
    return finish(r, at::cat({base.narrow(1, 0, slots), m * s}, 1));             // [T, K+2]
  }
  if (!o.fill_in_renormalize) {
    // The filled expert adds its router probability; the other weights stay as they are.
    at::Tensor p_f = routing.scores.to(at::kFloat).gather(1, f.clamp_min(0).unsqueeze(1));
    at::Tensor col = at::zeros({num_tokens, slots + 2}, fopt);
    col.select(1, slots + 1).fill_(1.0);
    w = w * (1.0 - col) + col * (p_f * has_f.to(at::kFloat).unsqueeze(1));
  }
  return finish(r, w);
}

}  // namespace switchyard::models
