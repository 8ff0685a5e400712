// File: models/moe/routers/stablemoe_losses.h
//
// The two stage-1 losses of StableMoE (Dai et al., "StableMoE: Stable Routing Strategy for
// Mixture of Experts", arXiv 2204.08396; formulas from the authors' code, ALGORITHMS.md §1.3),
// as pure functions computed per routing group and averaged over the non-empty groups.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

// Balance loss (code: calculate_balance_loss, --balance-loss balance), per group of T tokens:
//   L_bal = sum_i ((|A_i| - nbar) / nbar) * sum_{t in A_i} sigmoid(s_{t,i}),   nbar = T / E
// A_i = tokens assigned to expert i. The factor is a constant; the sigmoid carries the gradient
// into the centroids and the token features. With normalize_by_tokens the group value is divided
// by T (fairseq sums the aux loss over tokens and divides by the token count like the LM loss;
// our LM loss is a token mean). scores: [T, E] centroid scores s = <E_c, h>; assignment: [T]
// int64 in [0, E).
//
// global_counts ([E], optional): |A_i| counted over every routing group of the step (all ranks),
// as the authors' code counts the tokens each expert receives from all workers; nbar is then the
// step's token count / E, the same factor for every group. Each group still sums its own
// sigmoids (divided by its own T), so the mean over equal-size groups is the authors' value.
at::Tensor stablemoe_balance_loss(const at::Tensor& scores,
                                  const at::Tensor& assignment,
                                  const std::vector<int64_t>& group_sizes = {},
                                  bool normalize_by_tokens = true,
                                  const at::Tensor& global_counts = {});

// Distillation loss: cross-entropy of the distilled router's logits against the (constant)
// stage-1 assignment, mean over the group's tokens (fairseq: sum over tokens / token count).
// distilled_logits: [T, E]; assignment: [T] int64. Gradient reaches only the distilled router.
at::Tensor stablemoe_distill_loss(const at::Tensor& distilled_logits,
                                  const at::Tensor& assignment,
                                  const std::vector<int64_t>& group_sizes = {});

}  // namespace switchyard::models
