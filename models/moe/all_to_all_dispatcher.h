// File: models/moe/all_to_all_dispatcher.h
//
// AllToAllDispatcher: expert parallelism over an EP group of P ranks; EP rank p holds experts
// [p * L, (p + 1) * L), L = E / P. The all-to-all strategy (flat or hierarchical) is injected.
//
// dispatch:
//   1. gather kept rows grouped by expert                       [N, H] (= grouped by EP rank)
//   2. exchange_expert_counts over the EP group's host comm     [P, E] (the layer-step's one
//      small collective; the layout is agreed, so no exchange re-verifies it)
//   3. all_to_all_autograd                                      [R, H] by (source rank, expert)
//   4. regroup to (local expert, source rank)                   [R, H], tokens_per_expert [L]
// combine: inverse regroup, all-to-all back (transposed layout), weighted scatter-add [T, H].
// Collective over the EP group, also for ranks with zero tokens.
//
// overlap_chunks > 1 (comm.overlap_chunks): run_experts pipelines the exchange with the experts
// (pipelined_expert_pass.h), on a worker thread for CPU tensors and inline (chunked, not
// overlapped) for CUDA tensors.
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/exchange_worker.h"
#include "models/moe/token_dispatcher.h"

namespace switchyard::models {

class AllToAllDispatcher : public TokenDispatcher {
 public:
  // host_expert: the EP group's host communicator (comm/host_collectives.h); all_to_all runs
  // over the same ranks.
  AllToAllDispatcher(std::shared_ptr<comm::Communicator> host_expert,
                     std::shared_ptr<comm::AllToAll> all_to_all,
                     int64_t num_experts,
                     int overlap_chunks = 1);
  ~AllToAllDispatcher() override;

  DispatchedTokens dispatch(const at::Tensor& tokens, const DispatchPlan& plan) override;
  at::Tensor combine(const at::Tensor& expert_output, const DispatchHandle& handle) override;
  ExpertPass run_experts(const at::Tensor& tokens,
                         const DispatchPlan& plan,
                         Experts& experts) override;
  int64_t num_local_experts() const override { return num_local_experts_; }
  int64_t first_local_expert() const override { return first_local_expert_; }

 private:
  std::shared_ptr<comm::Communicator> host_expert_;
  std::shared_ptr<comm::AllToAll> all_to_all_;
  int64_t num_experts_;
  int64_t num_local_experts_;
  int64_t first_local_expert_;
  int overlap_chunks_;
  std::shared_ptr<comm::ExchangeWorker> worker_;  // made at the first pipelined CPU pass
};

}  // namespace switchyard::models
