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
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "models/moe/token_dispatcher.h"

namespace switchyard::models {

class AllToAllDispatcher : public TokenDispatcher {
 public:
  // host_expert: the EP group's host communicator (comm/host_collectives.h); all_to_all runs
  // over the same ranks.
  AllToAllDispatcher(std::shared_ptr<comm::Communicator> host_expert,
                     std::shared_ptr<comm::AllToAll> all_to_all,
                     int64_t num_experts);

  DispatchedTokens dispatch(const at::Tensor& tokens, const DispatchPlan& plan) override;
  at::Tensor combine(const at::Tensor& expert_output, const DispatchHandle& handle) override;
  int64_t num_local_experts() const override { return num_local_experts_; }
  int64_t first_local_expert() const override { return first_local_expert_; }

 private:
  std::shared_ptr<comm::Communicator> host_expert_;
  std::shared_ptr<comm::AllToAll> all_to_all_;
  int64_t num_experts_;
  int64_t num_local_experts_;
  int64_t first_local_expert_;
};

}  // namespace switchyard::models
