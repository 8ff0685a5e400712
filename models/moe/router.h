// File: models/moe/router.h
//
// Router: token -> (experts, combine weights). The interface every router implements, the
// per-call context (routing groups, seeded randomness) and the result consumed by the dispatcher.
//
// Conventions (ALGORITHMS.md §0):
//   * Router math is float32 regardless of the activation dtype (Switch "selective precision").
//   * The result is a padded assignment list [T, K]: expert_ids[t, j] = -1 marks an empty slot
//     (GShard's randomly dropped second choice, or an expert that did not choose the token in
//     expert-choice routing, where K = E). Empty slots have probs 0 and are never dispatched.
//   * Randomness (jitter, Gumbel, GShard random keep) is drawn for the whole global batch from
//     `seed` and sliced at `row_offset`, so a rank of a distributed run draws exactly the numbers
//     the single-process reference draws for the same rows (see router_noise.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace switchyard::comm {
class Communicator;
}  // namespace switchyard::comm

namespace switchyard::models {

struct RoutingContext {
  // Seed of this call's random draws; the MoE layer derives it from (seed, layer, step).
  uint64_t seed = 0;
  // Global row index of local token 0, and the rows of the global batch (-1 = the local T).
  int64_t row_offset = 0;
  int64_t global_rows = -1;
  // Routing groups: the local tokens are consecutive groups of these sizes (sum = T). Capacity,
  // expert choice and the load-balancing statistics are per group. Empty = one group of T.
  std::vector<int64_t> group_sizes;
  // Training mode: jitter and sampling noise only when true.
  bool training = true;
  // Training step of this forward (StableMoE switches stage at a configured step).
  int64_t step = 0;
  // Input token id of every routed token, [B, S] (or [T] = one sequence) int64 with B * S = T;
  // undefined when the caller has none. StableMoE's distilled router routes on them.
  at::Tensor token_ids;
  // Id of each routed token's predecessor in its sequence (the first position: itself), [T]
  // int64; set when the tokens were shuffled (token_ids is then [T] in the shuffled order) so
  // that position-dependent features (StableMoE's bigram router) survive the shuffle.
  at::Tensor previous_token_ids;
  // Node (of the EP group) of the rank owning each routing group ([groups]; empty = node 0 for
  // all). Locality-aware routers (LocMoE) read it.
  std::vector<int64_t> group_nodes;
  // Host communicator of the ranks whose routing groups together form the step's batch (the
  // layer's host batch group). Routers with global per-expert statistics (StableMoE's balance
  // counts and capacity, SMILE's receiver-side capacity) all-gather their per-group counts over
  // it: one collective. Null = single process: the call's routing groups are the whole batch.
  comm::Communicator* count_group = nullptr;
};

// A loss a router computes itself (StableMoE balance and distillation, SMILE per-level balance,
// LocMoE locality); the MoE layer adds it to the aux-loss collector as coeff * value.
struct RouterLoss {
  std::string name;
  at::Tensor value;  // scalar float32, differentiable
  double coeff = 0.0;
};

struct RoutingResult {
  at::Tensor probs;       // [T, K] float32 combine weights, differentiable; 0 in empty slots
  at::Tensor expert_ids;  // [T, K] int64 in [0, E) or -1 (empty slot)
  at::Tensor logits;      // [T, E] float32 router logits (z-loss, logging)
  at::Tensor scores;      // [T, E] float32 scores (softmax or sigmoid), differentiable
  // Assignments counted by the load-balancing loss: [T, k'] int64 (-1 ignored). Top-k: the
  // selected experts; GShard: the first choice only. Undefined = the router has no balance loss
  // (expert choice is balanced by construction).
  at::Tensor balance_ids;
  // Experts selected per token for the loss normalization (k of f_i = count_i / (T k)).
  int64_t balance_k = 1;
  // GShard: renormalize the surviving weights of a token to sum 1 after capacity drops.
  bool renormalize_after_drop = false;
  // The combine weights of a token sum to 1 (top-k renormalized, GShard). Rectify-Router then
  // renormalizes a rectified token's weights; otherwise every expert keeps the router's scale.
  bool normalized_weights = false;
  // Capacity factor the router asks a capacity-limited layer for (LocMoE's critical capacity,
  // ALGORITHMS.md §5.4); 0 = none. With capacity_factor_floor the layer uses
  // max(its capacity_factor, this), otherwise this replaces it. Ignored by dropless layers.
  double capacity_factor = 0.0;
  bool capacity_factor_floor = true;
  // Router-specific losses and host scalars for the metrics (e.g. SMILE level drops).
  std::vector<RouterLoss> losses;
  std::vector<std::pair<std::string, double>> metrics;
};

class Router : public torch::nn::Module {
 public:
  // tokens: [T, H] any floating dtype. Not collective.
  virtual RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) = 0;
  virtual int64_t num_experts() const = 0;
  // Assignment slots per token in the result (K of [T, K]).
  virtual int64_t slots_per_token() const = 0;
  // Aux-loss-free balancing (DeepSeek-V3): called after a step with the selection counts [E]
  // (float or int) of the whole batch the reference sees. Routers without a bias ignore it.
  virtual void update_expert_bias(const at::Tensor& global_counts) { (void)global_counts; }
  // Whether route() draws batch-wide noise (router_noise.h) in this mode, so that it needs
  // RoutingContext::row_offset / global_rows. The MoE layer only locates its rows in the global
  // batch (a collective, unless the caller passed them) when this says so. Default true: a
  // custom router that does not override it always gets them.
  virtual bool uses_batch_noise(bool training) const {
    (void)training;
    return true;
  }
  // Training stage of a staged router (StableMoE: 1 or 2); 0 for routers without stages. Part of
  // the model state: checkpoints store it and restore_stage() puts it back on resume.
  virtual int stage() const { return 0; }
  virtual void restore_stage(int stage) { (void)stage; }
  // The learned router weight R [E, H] whose rows are the experts' centres, for the ERC loss
  // (ALGORITHMS.md §2); undefined for routers without one. Default: the parameter "weight" when
  // it is [E, H] (the built-in routers).
  virtual at::Tensor coupling_weight() {
    auto params = named_parameters(/*recurse=*/false);
    at::Tensor* w = params.find("weight");
    if (w == nullptr || w->dim() != 2 || w->size(0) != num_experts()) return {};
    return *w;
  }
};

}  // namespace switchyard::models
