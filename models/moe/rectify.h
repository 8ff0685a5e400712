// File: models/moe/rectify.h
//
// Rectify-Router: Zeng, Guo, Fei et al., "Turn Waste into Worth: Rectifying Top-k Router of
// MoE", arXiv 2402.12399 (EMNLP 2024); ALGORITHMS.md §6 (SECONDARY sources). Post-processing of a
// capacity-limited top-k routing, without changing the capacity:
//
//   * Intra-rank rectification (IR, the paper's Intra-GPU Rectification): a token dropped
//     d = k - |R_i| times (R_i = its accepted experts) is also sent to
//     h = argmax_{e on the token's rank, not one that dropped it} a_ie (a = logits), counted d
//     times; the row stays on the token's rank (no extra all-to-all bytes to other ranks). At most
//     ceil(f C_g) IR rows per (group, expert), best logit first: an expert computes <= (1+f) C_g.
//   * Fill-in rectification (FR): every token's candidate is its best expert outside its top-k
//     selection (its (k+1)-th choice). For each routing group g and expert e with kept load
//     load_ge < C_g, the C_g - load_ge free slots take the candidates of e from group g in
//     descending a_{i,(k+1)} (ties: earlier token first). Capacity is per routing group (a rank's
//     tokens), so the free slots are known on the source rank: no extra exchange.
//   * Combine weights of a rectified token (one with an IR or FR assignment):
//       o_i = sum_{j in used} m_j e^{a_ij} E_j(x_i) / sum_{j in used} m_j e^{a_ij}
//     (m_j = 1 accepted/filled, d for h; denominator constant in backward) when the router's
//     weights sum to 1; otherwise (routing.normalized_weights false) a rectified expert gets
//     m_j s_ij, the accepted keep theirs. Tokens that are not rectified keep the router's weights.
//
// UNVERIFIED choices, each an option: whether IR excludes the token's accepted experts
// (intra_rank_exclude_kept, default false = the literal argmax over the local experts), and
// whether the FR expert enters the denominator (fill_in_renormalize, default true; false = the
// accepted weights stay the router's and the filled expert adds its router probability).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "models/moe/router.h"

namespace switchyard::models {

struct RectifyOptions {
  bool intra_rank = false;
  bool fill_in = false;
  bool intra_rank_exclude_kept = false;
  bool fill_in_renormalize = true;
  // IR rows per (routing group, expert) are at most ceil(f * C_g), highest logit first (ties:
  // earlier token); so an expert computes at most (1 + f) C_g rows of a routing group.
  double intra_rank_capacity_factor = 1.0;
  // Expert layout: EP rank p holds experts [p * E / P, (p + 1) * E / P).
  int64_t expert_parallel_size = 1;
  // This process's EP rank; -1 = a single-process reference of several ranks: routing group g
  // holds the tokens of world rank g, whose EP rank is g % P (comm/process_groups.h).
  int64_t expert_parallel_rank = -1;
  bool enabled() const { return intra_rank || fill_in; }
};

struct Rectification {
  // [T, K + 2]: the router's K slots, then the IR expert, then the FR expert (-1 = none).
  at::Tensor expert_ids;
  at::Tensor keep;     // [T, K + 2] bool: assignments dispatched
  at::Tensor weights;  // [T, K + 2] float32 combine weights (differentiable; 0 where not kept)
  int64_t num_intra_rank = 0;  // tokens with an IR assignment
  int64_t num_fill_in = 0;     // FR assignments (filled slots)
};

// What a DispatchPlan keeps of a Rectification (set only when rectification ran).
struct RectifiedAssignments {
  at::Tensor expert_ids;       // [T, 2] int64 IR and FR expert of every token (-1 = none)
  int64_t num_intra_rank = 0;  // tokens with an IR assignment
  int64_t num_fill_in = 0;     // FR assignments (filled slots)
};

// routing: the router's result ([T, K] ids, logits [T, E], scores). keep: [T, K] capacity mask;
// weights: [T, K] the combine weights without rectification. capacities / groups: per routing
// group (groups empty = one group of T).
Rectification rectify_assignments(const RoutingResult& routing,
                                  const at::Tensor& keep,
                                  const at::Tensor& weights,
                                  int64_t num_experts,
                                  const std::vector<int64_t>& capacities,
                                  const std::vector<int64_t>& groups,
                                  const RectifyOptions& options);

}  // namespace switchyard::models
