// File: models/moe/node_dedup_dispatcher.h
//
// NodeDedupDispatcher: the node-deduplicated token exchange (docs/dedup.md). The EP group is N
// whole nodes of G ranks (EP rank p = n * G + g, N >= 2 and G >= 2 to be useful); node n holds
// experts [n E / N, (n + 1) E / N), rank p holds L = E / (N G) of them. A token crosses the
// inter-node link at most once per destination node, and one partial sum comes back.
//
// dispatch, on source rank (n_s, l):
//   0. plan rows per (destination node, token)                 [M, H], meta [M, 2 E_node]
//      one all-gather over the EP host comm of ([N] rows per node, [P] rows per rank): both
//      phases' layouts, agreed by construction (the layer-step's one small collective)
//   A. all-to-all over expert_inter_node (N ranks, local index l): to (n, l)   -> [M', H] relay
//   B. relay fans out each row to the ranks g of its node holding >= 1 assigned expert, with
//      their L columns; all-to-all over expert_intra_node (G ranks)            -> [R_B, H]
//   C. expand to (local expert, row) order                                     -> [R, H]
// combine (reverse order, every step differentiable: index_add, mul, all_to_all_autograd):
//   y_b = sum_e w_{b,e} f_e(x_b) (float32)  [R_B, H] -> reverse B -> relay sums the rows of
//   each A-row [M', H] -> reverse A -> source sums per token [T, H] (tokens' dtype).
// Float32 payloads travel with their metadata in one message per peer (cat); other dtypes in two.
// Collective over the EP group, also for ranks with zero tokens.
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "models/moe/node_dedup_plan.h"
#include "models/moe/token_dispatcher.h"

namespace switchyard::models {

// Per layer-step state that combine needs (DispatchHandle::node_dedup).
struct NodeDedupState {
  comm::AllToAllLayout inter_layout;  // phase A over expert_inter_node (combine: transposed)
  comm::AllToAllLayout intra_layout;  // phase B over expert_intra_node (combine: transposed)
  at::Tensor source_token_index;      // [M] token of each phase-A row this rank sent
  int64_t num_tokens = 0;             // T
  at::Tensor relay_row_index;         // [M_B] phase-A received row of each phase-B sent row
  int64_t relay_rows = 0;             // M' phase-A rows received
  at::Tensor expert_row_index;        // [R] phase-B received row of each expert row
  at::Tensor expert_weights;          // [R] float32 combine weight of each expert row
  int64_t expert_input_rows = 0;      // R_B phase-B rows received
};

class NodeDedupDispatcher : public TokenDispatcher {
 public:
  // host_expert: the EP group's host communicator (P = N * G ranks). inter_node: an all-to-all
  // over expert_inter_node (size N, rank = node index); intra_node: over expert_intra_node (size
  // G, rank = local index). fault: test-only (node_dedup_plan.h).
  NodeDedupDispatcher(std::shared_ptr<comm::Communicator> host_expert,
                      std::shared_ptr<comm::AllToAll> inter_node,
                      std::shared_ptr<comm::AllToAll> intra_node,
                      int64_t num_experts,
                      NodeDedupFault fault = NodeDedupFault::kNone);

  DispatchedTokens dispatch(const at::Tensor& tokens, const DispatchPlan& plan) override;
  at::Tensor combine(const at::Tensor& expert_output, const DispatchHandle& handle) override;
  int64_t num_local_experts() const override { return shape_.experts_per_rank(); }
  int64_t first_local_expert() const override { return host_expert_->rank() * num_local_experts(); }

 private:
  std::shared_ptr<comm::Communicator> host_expert_;
  std::shared_ptr<comm::AllToAll> inter_;
  std::shared_ptr<comm::AllToAll> intra_;
  NodeDedupShape shape_;
  NodeDedupFault fault_;
};

}  // namespace switchyard::models
