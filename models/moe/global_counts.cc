#include "models/moe/global_counts.h"

#include <vector>

#include <ATen/ATen.h>

#include "comm/communicator.h"
#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::models {

GatheredCounts gather_group_counts(const at::Tensor& local, comm::Communicator* group) {
  SY_CHECK_EQ(local.dim(), 2) << "counts must be [G, n]";
  at::Tensor counts = local.to(at::kLong).contiguous();  // [G, n] on local's device
  if (group == nullptr || group->size() <= 1) return {counts, 0};
  const at::Tensor host = counts.to(at::kCPU);
  const int64_t* p = host.data_ptr<int64_t>();
  const std::vector<int64_t> mine(p, p + counts.numel());
  // [W * G * n] in rank order -> [W * G, n]
  const std::vector<int64_t> all = comm::all_gather(*group, mine);
  GatheredCounts out;
  out.counts = at::tensor(all, at::kLong).view({-1, counts.size(1)}).to(local.device());
  out.first_group = group->rank() * counts.size(0);
  return out;
}

at::Tensor keep_in_arrival_order(const at::Tensor& assignment,
                                 const at::Tensor& group_of_token,
                                 const GatheredCounts& counts,
                                 const at::Tensor& capacity) {
  const int64_t num_tokens = assignment.size(0);
  const int64_t n = counts.counts.size(1);
  const auto lopt = assignment.options().dtype(at::kLong);  // on the routing's device
  if (num_tokens == 0) return at::zeros({0}, lopt.dtype(at::kBool));
  at::Tensor valid = assignment.ge(0);                          // [T]
  at::Tensor col = assignment.clamp_min(0);                     // [T]
  at::Tensor before = counts.counts.cumsum(0) - counts.counts;  // [G_all, n]
  at::Tensor row = group_of_token + counts.first_group;         // [T]
  at::Tensor prior = before.index({row, col});                  // [T]
  // Position of t among the earlier tokens of its group with the same column: the running count
  // over all tokens minus the running count at the first token of its (consecutive) group.
  at::Tensor one_hot =
      at::zeros({num_tokens, n}, lopt)
          .scatter_(1, col.unsqueeze(1), valid.to(at::kLong).unsqueeze(1));  // [T, n]
  at::Tensor running = one_hot.cumsum(0) - one_hot;                          // [T, n] exclusive
  at::Tensor starts_group = at::ones({num_tokens}, lopt.dtype(at::kBool));   // [T]
  if (num_tokens > 1) {
    starts_group.narrow(0, 1, num_tokens - 1)
        .copy_(group_of_token.narrow(0, 1, num_tokens - 1)
                   .ne(group_of_token.narrow(0, 0, num_tokens - 1)));
  }
  at::Tensor first = std::get<0>(
      at::arange(num_tokens, lopt).masked_fill(starts_group.logical_not(), 0).cummax(0));
  at::Tensor base = running.index_select(0, first);                          // [T, n]
  at::Tensor pos = (running - base).gather(1, col.unsqueeze(1)).squeeze(1);  // [T]
  return valid & (prior + pos).lt(capacity.to(at::kLong).index_select(0, col));
}

}  // namespace switchyard::models
