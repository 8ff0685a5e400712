// File: models/moe/routers/locmoe_math.h
//
// The pure functions of LocMoE (Li, Sun, He, Zeng, Lin, Li, Zheng, Zhao, Chen, "LocMoE: A
// Low-overhead MoE for Large Language Model Training", arXiv 2401.13920, IJCAI 2024;
// ALGORITHMS.md §5). All parts below are reconstructions (SECONDARY / UNVERIFIED there).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

// Grouped average pooling (GrAP) gating, §5.2: x [T, d] -> logits [T, E],
// z_{t,i} = (E / d) * sum_{c in group i} x_{t,c} (the mean of the i-th of E contiguous groups of
// d / E features). Equivalent to x W^T with the fixed matrix of grap_gating_matrix. d % E == 0.
at::Tensor grouped_average_pooling_logits(const at::Tensor& x, int64_t num_experts);

// The implied gating matrix [E, d]: row i is E / d on group i and 0 elsewhere (mutually
// orthogonal rows).
at::Tensor grap_gating_matrix(int64_t num_experts, int64_t hidden_size);

// Locality loss (our reconstruction of §5.3; the paper's exact form is UNVERIFIED): per routing
// group g (consecutive tokens of group_sizes, empty = one group) KL(p_local || pbar_g), pbar_g =
// the group's mean routing distribution and p_local uniform over the E / N experts of the
// group's node group_nodes[g] (empty = node 0), 0 elsewhere; averaged over the non-empty groups.
// Input: log_scores [T, E], the log of the routing distribution (log_softmax of the logits).
// log pbar_{g,i} is computed in the log domain (logsumexp over the group's tokens), so the loss
// stays exact and its gradient with respect to the logits bounded (|d/dz| <= 1 per token) as
// the local probability goes to 0, even where it underflows in float32. Scalar, differentiable.
// 0 iff pbar_g == p_local for every group.
at::Tensor locality_loss(const at::Tensor& log_scores,
                         int64_t num_nodes,
                         const std::vector<int64_t>& group_sizes,
                         const std::vector<int64_t>& group_nodes);

// p_delta = P(|<u, w>| >= delta) for u uniform on the unit sphere of R^d and a fixed unit w,
// exact (1 - I_{delta^2}(1/2, (d - 1)/2), by numerical integration of the density of <u, w>,
// proportional to (1 - t^2)^((d - 3) / 2)), §5.4. d >= 2, delta in [0, 1].
double locmoe_p_delta(double delta, int64_t d);

// The large-d approximation erfc(sqrt(delta^2 d / (2 - delta^2))), §5.4.
double locmoe_p_delta_erfc(double delta, int64_t d);

// The reported minimum expert capacity ec_min = 1 / (E * erfc(sqrt(delta^2 d / (2 - delta^2)))),
// §5.4. Its units are UNVERIFIED; see locmoe_capacity_factor_bound.
double locmoe_min_capacity_bound(int64_t num_experts, int64_t d, double delta);

// The capacity factor of the bound: ec_min * E when ec_min is a share of the T * k assignments
// (share_of_assignments), ec_min itself when it is a multiple of the balanced capacity T k / E.
// >= 1 in the first reading (ec_min >= 1/E), > 1/E in the second.
double locmoe_capacity_factor_bound(int64_t num_experts,
                                    int64_t d,
                                    double delta,
                                    bool share_of_assignments);

}  // namespace switchyard::models
