// File: models/moe/routing_groups.h
//
// Routing groups (docs/moe_layer.md): the local tokens are consecutive groups of given sizes, and
// per-group losses are averaged over the groups that have tokens. Shared by every loss that
// works per group.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

// The group sizes of `num_tokens` tokens: `group_sizes` (checked to add up), or one group of all
// tokens when empty.
std::vector<int64_t> resolve_routing_groups(int64_t num_tokens,
                                            const std::vector<int64_t>& group_sizes);

// Mean of per_group ([G]) over the groups with sizes[g] > 0; 0 (still in the graph) when all
// groups are empty.
at::Tensor mean_over_nonempty_groups(const at::Tensor& per_group,
                                     const std::vector<int64_t>& sizes);

}  // namespace switchyard::models
