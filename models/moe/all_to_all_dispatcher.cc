#include "models/moe/all_to_all_dispatcher.h"

#include <ATen/ATen.h>

#include "comm/a2a/expert_layout.h"
#include "comm/all_to_all_function.h"
#include "core/check.h"
#include "models/moe/pipelined_expert_pass.h"

namespace switchyard::models {

AllToAllDispatcher::AllToAllDispatcher(std::shared_ptr<comm::Communicator> host_expert,
                                       std::shared_ptr<comm::AllToAll> all_to_all,
                                       int64_t num_experts,
                                       int overlap_chunks)
    : host_expert_(std::move(host_expert)),
      all_to_all_(std::move(all_to_all)),
      num_experts_(num_experts),
      overlap_chunks_(overlap_chunks) {
  SY_CHECK_GE(overlap_chunks_, 1) << "comm.overlap_chunks must be >= 1";
  SY_CHECK(host_expert_ != nullptr && all_to_all_ != nullptr) << "EP group and all-to-all";
  const int64_t ep_size = host_expert_->size();
  SY_CHECK_EQ(all_to_all_->group_size(), ep_size) << "all-to-all strategy vs EP group";
  SY_CHECK_EQ(all_to_all_->group_rank(), host_expert_->rank()) << "all-to-all strategy vs EP rank";
  SY_CHECK_EQ(num_experts % ep_size, 0) << "num_experts must be a multiple of the EP size";
  num_local_experts_ = num_experts / ep_size;
  first_local_expert_ = host_expert_->rank() * num_local_experts_;
}

DispatchedTokens AllToAllDispatcher::dispatch(const at::Tensor& tokens, const DispatchPlan& plan) {
  SY_CHECK_EQ(plan.num_experts, num_experts_);
  at::Tensor rows = tokens.index_select(0, plan.token_index);  // [N, H] grouped by expert

  // [P, E] per-expert counts of every EP rank, agreed (one all-gather, host sync).
  const comm::ExpertLayout counts =
      comm::exchange_expert_counts(*host_expert_, plan.tokens_per_expert);
  DispatchedTokens out;
  out.handle.layout = counts.layout;
  at::Tensor received =
      comm::all_to_all_autograd(all_to_all_, rows.contiguous(), out.handle.layout);  // [R, H]

  // Received rows: by source rank, then local expert. Regroup to (local expert, source rank).
  out.tokens_per_expert = counts.rows_per_local_expert();  // [L]
  out.handle.expert_order =
      at::tensor(counts.expert_major_order(), at::kLong).to(received.device());  // [R]
  out.handle.inverse_order = at::argsort(out.handle.expert_order);               // [R]
  out.tokens = received.index_select(0, out.handle.expert_order);                // [R, H]
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

AllToAllDispatcher::~AllToAllDispatcher() = default;

ExpertPass AllToAllDispatcher::run_experts(const at::Tensor& tokens,
                                           const DispatchPlan& plan,
                                           Experts& experts) {
  if (overlap_chunks_ <= 1) return TokenDispatcher::run_experts(tokens, plan, experts);
  PipelinedPass pass;
  pass.host_expert = host_expert_.get();
  pass.all_to_all = all_to_all_;
  pass.chunks = overlap_chunks_;
  if (!tokens.is_cuda()) {
    if (worker_ == nullptr) worker_ = std::make_shared<comm::ExchangeWorker>();
    pass.worker = worker_;
  }
  return pipelined_expert_pass(tokens, plan, experts, pass);
}

}  // namespace switchyard::models
