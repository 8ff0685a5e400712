#include "models/moe/capacity.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace switchyard::models {

int64_t expert_capacity(double capacity_factor,
                        int64_t num_tokens,
                        int64_t top_k,
                        int64_t num_experts,
                        int64_t min_capacity) {
  SY_CHECK_GT(capacity_factor, 0.0) << "capacity factor (0 = dropless has no capacity)";
  SY_CHECK_GE(num_tokens, 0);
  SY_CHECK_GT(top_k, 0);
  SY_CHECK_GT(num_experts, 0);
  // Computed in double; the small epsilon keeps exact products (e.g. 1.25 * 64 * 2 / 8 = 20)
  // from rounding up through float noise of the factor.
  const double assignments = static_cast<double>(num_tokens) * static_cast<double>(top_k);
  const double c =
      std::ceil(capacity_factor * assignments / static_cast<double>(num_experts) - 1e-9);
  return std::max(min_capacity, static_cast<int64_t>(c));
}

}  // namespace switchyard::models
