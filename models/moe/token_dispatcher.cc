#include "models/moe/token_dispatcher.h"

#include <chrono>

#include "models/moe/experts.h"

namespace switchyard::models {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

ExpertPass TokenDispatcher::run_experts(const at::Tensor& tokens,
                                        const DispatchPlan& plan,
                                        Experts& experts) {
  ExpertPass pass;
  Clock::time_point start = Clock::now();
  DispatchedTokens dispatched = dispatch(tokens, plan);  // [R, H] grouped by local expert
  pass.dispatch_seconds = seconds_since(start);
  start = Clock::now();
  at::Tensor expert_out = experts.forward(dispatched.tokens, dispatched.tokens_per_expert);
  pass.expert_seconds = seconds_since(start);
  start = Clock::now();
  pass.combined = combine(expert_out, dispatched.handle);  // [T, H]
  pass.combine_seconds = seconds_since(start);
  pass.handle = std::move(dispatched.handle);
  return pass;
}

}  // namespace switchyard::models
