// File: models/moe/aux_losses.h
//
// Auxiliary router losses as pure functions (float32, differentiable through the scores or
// logits; the assignment counts carry no gradient). Values are before the coefficient and are
// normalized so that perfectly uniform routing gives 1 (ALGORITHMS.md §0).
//
// Every loss is computed per routing group (group_sizes, consecutive tokens; empty = one group)
// and averaged over the non-empty groups, which makes a distributed run (one group per rank) and
// its single-process reference (one group per rank's tokens) compute the same values.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

// Switch Transformer load-balancing loss (Fedus, Zoph, Shazeer, "Switch Transformers",
// arXiv 2101.03961), generalized to top-k as in Megatron-LM:
//   L = E / (k T^2) * sum_i (sum_x p_i(x)) * count_i      per group of T tokens,
// with p = scores normalized per token (softmax unchanged; sigmoid divided by its row sum as in
// DeepSeek-V3) and count_i = assignments of balance_ids to expert i.
// scores: [T, E]; balance_ids: [T, k'] int64 (-1 ignored); k: the per-token normalization.
// GShard's loss (Lepikhin et al., arXiv 2006.16668) is the case balance_ids = first choice, k = 1.
at::Tensor load_balancing_loss(const at::Tensor& scores,
                               const at::Tensor& balance_ids,
                               int64_t k,
                               const std::vector<int64_t>& group_sizes = {});

// DeepSeek-V3 complementary sequence-wise balance loss (arXiv 2412.19437):
//   L_Bal = sum_i f_i P_i, f_i = E / (k T) * count_i, P_i = (1/T) sum_t s'_{i,t}
// per sequence of seq_len tokens, averaged over sequences. Equal to load_balancing_loss with one
// group per sequence. T must be a multiple of seq_len.
at::Tensor sequence_load_balancing_loss(const at::Tensor& scores,
                                        const at::Tensor& balance_ids,
                                        int64_t k,
                                        int64_t seq_len);

// Router z-loss (Zoph et al., "ST-MoE", arXiv 2202.08906): mean over tokens of
// (logsumexp_j z_tj)^2, per group, averaged over groups. logits: [T, E].
at::Tensor z_loss(const at::Tensor& logits, const std::vector<int64_t>& group_sizes = {});

// Helpers shared with the dispatcher: [T] int64 group index of every token, and the group sizes
// of `num_tokens` tokens in sequences of seq_len.
at::Tensor group_index(int64_t num_tokens,
                       const std::vector<int64_t>& group_sizes,
                       at::Device device);
std::vector<int64_t> sequence_groups(int64_t num_tokens, int64_t seq_len);

}  // namespace switchyard::models
