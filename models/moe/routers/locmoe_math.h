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

// Locality loss placeholder, §5.3: per routing group g (consecutive tokens of group_sizes, empty
// = one group) KL(p_local || pbar_g), pbar_g = mean over the group's tokens of `scores` ([T, E],
// rows summing to 1) and p_local uniform over the E / N experts of the group's node
// group_nodes[g] (empty = node 0), 0 elsewhere; averaged over the non-empty groups. Scalar,
// differentiable through scores. 0 iff pbar_g == p_local for every group.
at::Tensor locality_loss(const at::Tensor& scores,
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
// §5.4. Units (fraction of the batch vs multiple of T / E) are UNVERIFIED: reported in the
// metrics, never used to set the capacity.
double locmoe_min_capacity_bound(int64_t num_experts, int64_t d, double delta);

}  // namespace switchyard::models
