// File: models/moe/token_dispatcher.h
//
// TokenDispatcher: moves the kept rows of a DispatchPlan to the ranks holding their experts
// (dispatch) and brings the expert outputs back, weighted and summed per token (combine).
// The DeepEP shape: dispatch returns a handle that combine consumes.
//
// Contract: dispatch/combine are collective over the expert-parallel group for distributed
// dispatchers (every EP rank calls them in the same order, also with zero local tokens), and
// differentiable: autograd runs the reverse exchanges in backward.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"
#include "models/moe/dispatch_plan.h"

namespace switchyard::models {

class Experts;          // experts.h
struct NodeDedupState;  // node_dedup_dispatcher.h

struct DispatchHandle {
  DispatchPlan plan;
  // Distributed dispatchers only.
  comm::AllToAllLayout layout;  // dispatch exchange (combine uses layout.transposed())
  at::Tensor expert_order;      // [R] received row of each expert-grouped row
  at::Tensor inverse_order;     // [R] inverse permutation of expert_order
  // Node-deduplicated dispatcher only: the state of its two phases.
  std::shared_ptr<const NodeDedupState> node_dedup;
  // Rows and payload bytes this rank's dispatch sent to other nodes, when the dispatcher counts
  // them itself (node dedup: one row per token and node, with its metadata); -1 = one row per
  // kept cross-node assignment (the plan's cross-node rows, MoE layer statistics).
  int64_t inter_node_rows = -1;
  int64_t inter_node_bytes = 0;
};

struct DispatchedTokens {
  at::Tensor tokens;                       // [R, H] grouped by local expert
  std::vector<int64_t> tokens_per_expert;  // [L] rows per local expert (host)
  DispatchHandle handle;
};

// One pass of the tokens through the experts: dispatch, expert compute, combine.
struct ExpertPass {
  at::Tensor combined;    // [T, H] in the tokens' dtype
  DispatchHandle handle;  // of the dispatch (the pipelined pass: of the whole exchange)
  // Wall time of the caller's thread. Pipelined (comm.overlap_chunks > 1): dispatch = waiting for
  // dispatched chunks (the exchange time not hidden behind the experts), combine likewise.
  double dispatch_seconds = 0.0;
  double expert_seconds = 0.0;
  double combine_seconds = 0.0;
};

class TokenDispatcher {
 public:
  virtual ~TokenDispatcher() = default;
  // tokens: [T, H] local tokens; plan from make_dispatch_plan on the same tokens.
  virtual DispatchedTokens dispatch(const at::Tensor& tokens, const DispatchPlan& plan) = 0;
  // expert_output: [R, H] in the order of DispatchedTokens::tokens -> [T, H] (tokens' dtype).
  virtual at::Tensor combine(const at::Tensor& expert_output, const DispatchHandle& handle) = 0;
  // dispatch -> experts.forward -> combine. Dispatchers that overlap the exchange with the
  // experts' compute override it; the default runs the three in sequence.
  virtual ExpertPass run_experts(const at::Tensor& tokens,
                                 const DispatchPlan& plan,
                                 Experts& experts);
  virtual int64_t num_local_experts() const = 0;
  virtual int64_t first_local_expert() const = 0;
};

// out[t] = sum over kept rows r of token t: weights[r] * rows[r]. rows: [N, H] in plan order.
// Float32 accumulation; result in `dtype`. Shared by every dispatcher.
at::Tensor combine_rows(const at::Tensor& rows, const DispatchPlan& plan, at::ScalarType dtype);

}  // namespace switchyard::models
