#include "models/moe/routing_groups.h"

#include <numeric>

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {

std::vector<int64_t> resolve_routing_groups(int64_t num_tokens,
                                            const std::vector<int64_t>& group_sizes) {
  if (group_sizes.empty()) return {num_tokens};
  const int64_t total = std::accumulate(group_sizes.begin(), group_sizes.end(), int64_t{0});
  SY_CHECK_EQ(total, num_tokens) << "group sizes must add up to the number of tokens";
  return group_sizes;
}

at::Tensor mean_over_nonempty_groups(const at::Tensor& per_group,
                                     const std::vector<int64_t>& sizes) {
  std::vector<int64_t> nonempty;
  for (size_t g = 0; g < sizes.size(); ++g) {
    if (sizes[g] > 0) nonempty.push_back(static_cast<int64_t>(g));
  }
  if (nonempty.empty()) return per_group.sum() * 0.0;
  return per_group.index_select(0, at::tensor(nonempty, at::kLong).to(per_group.device())).mean();
}

}  // namespace switchyard::models
