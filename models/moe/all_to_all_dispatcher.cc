#include "models/moe/all_to_all_dispatcher.h"

#include <ATen/ATen.h>

#include "comm/all_to_all_function.h"
#include "core/check.h"

namespace switchyard::models {

AllToAllDispatcher::AllToAllDispatcher(std::shared_ptr<comm::Communicator> expert_group,
                                       std::shared_ptr<comm::AllToAll> all_to_all,
                                       int64_t num_experts)
    : expert_group_(std::move(expert_group)),
      all_to_all_(std::move(all_to_all)),
      num_experts_(num_experts) {
  SY_CHECK(expert_group_ != nullptr && all_to_all_ != nullptr) << "EP group and all-to-all";
  const int64_t ep_size = expert_group_->size();
  SY_CHECK_EQ(all_to_all_->group_size(), ep_size) << "all-to-all strategy vs EP group";
  SY_CHECK_EQ(num_experts % ep_size, 0) << "num_experts must be a multiple of the EP size";
  num_local_experts_ = num_experts / ep_size;
  first_local_expert_ = expert_group_->rank() * num_local_experts_;
}

DispatchedTokens AllToAllDispatcher::dispatch(const at::Tensor& tokens, const DispatchPlan& plan) {
  SY_CHECK_EQ(plan.num_experts, num_experts_);
  const int ep_size = expert_group_->size();
  const int me = expert_group_->rank();
  const int64_t num_local = num_local_experts_;
  at::Tensor rows = tokens.index_select(0, plan.token_index);  // [N, H] grouped by expert

  // [P, E] per-expert counts of every EP rank (host sync).
  at::Tensor my_counts = at::tensor(plan.tokens_per_expert, at::kLong);  // [E]
  at::Tensor all_counts = at::empty({ep_size * num_experts_}, at::kLong);
  expert_group_->all_gather(all_counts, my_counts)->wait();
  const int64_t* c = all_counts.data_ptr<int64_t>();  // c[src * E + expert]

  std::vector<int64_t> matrix(static_cast<size_t>(ep_size) * ep_size, 0);  // [P * P] src -> dst
  for (int src = 0; src < ep_size; ++src) {
    for (int64_t e = 0; e < num_experts_; ++e) {
      matrix[static_cast<size_t>(src * ep_size + e / num_local)] += c[src * num_experts_ + e];
    }
  }
  DispatchedTokens out;
  out.handle.layout = comm::AllToAllLayout::from_count_matrix(me, ep_size, matrix);
  at::Tensor received =
      comm::all_to_all_autograd(all_to_all_, rows.contiguous(), out.handle.layout);  // [R, H]

  // Received rows: by source rank, then local expert. Regroup to (local expert, source rank).
  std::vector<int64_t> source_start(static_cast<size_t>(ep_size), 0);  // first row from src
  for (int src = 1; src < ep_size; ++src) {
    source_start[src] =
        source_start[src - 1] + matrix[static_cast<size_t>((src - 1) * ep_size + me)];
  }
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(received.size(0)));
  out.tokens_per_expert.assign(static_cast<size_t>(num_local), 0);
  for (int64_t l = 0; l < num_local; ++l) {
    const int64_t expert = me * num_local + l;
    for (int src = 0; src < ep_size; ++src) {
      int64_t offset = source_start[src];
      for (int64_t l2 = 0; l2 < l; ++l2) offset += c[src * num_experts_ + me * num_local + l2];
      const int64_t n = c[src * num_experts_ + expert];
      for (int64_t i = 0; i < n; ++i) order.push_back(offset + i);
      out.tokens_per_expert[static_cast<size_t>(l)] += n;
    }
  }
  out.handle.expert_order = at::tensor(order, at::kLong);           // [R]
  out.handle.inverse_order = at::argsort(out.handle.expert_order);  // [R]
  out.tokens = received.index_select(0, out.handle.expert_order);   // [R, H]
  out.handle.plan = plan;
  return out;
}

at::Tensor AllToAllDispatcher::combine(const at::Tensor& expert_output,
                                       const DispatchHandle& handle) {
  // [R, H] (local expert, source) -> (source, local expert), the order received.
  at::Tensor by_source = expert_output.index_select(0, handle.inverse_order).contiguous();
  at::Tensor back = comm::all_to_all_autograd(all_to_all_, by_source,
                                              handle.layout.transposed());  // [N, H]
  return combine_rows(back, handle.plan, expert_output.scalar_type());
}

}  // namespace switchyard::models
