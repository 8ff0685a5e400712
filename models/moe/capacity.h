// File: models/moe/capacity.h
//
// The one expert-capacity function of Switchyard (ALGORITHMS.md §0 and §10.7), with Megatron-LM's
// rounding (get_capacity called with T * k assignments):
//
//   C = max(min_capacity, ceil(cf * T * k / E))
//
// T = tokens of the routing group, k = experts per token, E = experts, cf > 0. cf == 0 means
// dropless (no capacity; never passed here). Tutel's adaptive cf < 0 is not supported.
#pragma once

#include <cstdint>

namespace switchyard::models {

int64_t expert_capacity(double capacity_factor,
                        int64_t num_tokens,
                        int64_t top_k,
                        int64_t num_experts,
                        int64_t min_capacity = 0);

}  // namespace switchyard::models
