// File: models/moe/moe_layer.h
//
// MoELayer: router -> dispatch plan -> dispatcher -> experts -> combine (docs/moe_layer.md).
//
//   MoELayer layer(options, router, dispatcher, experts, &aux_losses);   // or build_moe_layer()
//   MoEOutput out = layer->forward(x /* [B, S, H] or [T, H] */, {.step = step});
//   loss = task(out.output) + aux_losses.weighted_sum();
//
// One forward: routing context (seed, groups, nodes) -> optional token shuffle -> the rows'
// place in the global batch (only when the router or the drop policy draws batch-wide noise)
// -> route -> layer losses -> plan -> dispatch -> experts -> combine -> unshuffle.
// Small collectives per layer-step (tests/models/moe_collectives_test.cc counts them): the
// dispatcher's expert-count all-gather, plus the shuffle's count all-gather when shuffling,
// plus one all-gather of token counts when noise is drawn and the caller did not pass
// args.batch_rows. The 4 payload exchanges (dispatch, combine, and their backward) reuse the
// agreed layout and issue none.
//
// Aux losses go to the collector (not owned; outlives the layer); routing statistics come back in
// MoEOutput. The output excludes the residual (the caller adds x): a dropped assignment
// contributes zero, so a token with all assignments dropped has output 0.
//
// Routing groups (ALGORITHMS.md §7.2 "local group dispatching"): capacity, expert choice and the
// balance losses are per group. A distributed layer's group is its rank's tokens; the
// single-process reference of W ranks passes args.group_sizes = the W ranks' token counts.
// batch_independent: the groups are single sequences (the mitigation of ALGORITHMS.md §9), so no
// token's output depends on the other sequences of its batch.
//
// Randomness is seeded per (options.seed, layer_index, step) and drawn for the whole batch of
// `host_batch_group` (rank-ordered concatenation of every rank's tokens; null = this process
// only; a host communicator, comm/host_collectives.h).
// Collective (distributed dispatcher, batch group): every rank calls forward in the same order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "models/forward_context.h"
#include "models/moe/aux_loss_collector.h"
#include "models/moe/dispatch_plan.h"
#include "models/moe/dpsl_loss.h"
#include "models/moe/erc_loss.h"
#include "models/moe/experts.h"
#include "models/moe/router.h"
#include "models/moe/routing_stats.h"
#include "models/moe/token_dispatcher.h"
#include "models/moe/token_shuffle.h"

namespace switchyard::comm {
class Communicator;
}

namespace switchyard::models {

enum class LoadBalancingLoss { kMicroBatch, kSequence, kNone };

struct AuxLossOptions {
  LoadBalancingLoss load_balancing = LoadBalancingLoss::kMicroBatch;
  double load_balancing_coeff = 0.01;
  double z_loss_coeff = 0.0;
  // Dirichlet-prior shaping loss (dpsl_loss.h) on the per-token normalized router scores;
  // 0 = off. Applied in training only, and only for steps < dpsl_warmup_only_steps if that is > 0.
  double dpsl_coeff = 0.0;
  DirichletPrior dpsl_prior;
  int64_t dpsl_warmup_only_steps = 0;
  // Micro-batch load balancing (its f_i) and DPSL (its empirical CDF) over every routing group of
  // the step, all ranks (global_aux_statistics.h; one all-gather per layer-step), instead of per
  // routing group.
  bool global_statistics = false;
  ErcOptions erc;  // expert-router coupling loss (erc.coeff 0 = off; needs set_coupling_loss)
};

struct MoELayerOptions {
  int64_t hidden_size = 0;
  int64_t num_experts = 8;
  int64_t layer_index = 0;
  uint64_t seed = 0;
  CapacityOptions capacity;  // capacity_factor 0 = dropless
  bool batch_independent = false;
  // Tokens per sequence for [T, H] input (the sequence loss, batch-independent mode); a
  // [B, S, H] input sets it to S.
  int64_t seq_len = 0;
  AuxLossOptions aux;
  // Nodes of the EP group (experts node-contiguous: node n holds [n E / N, (n + 1) E / N)) and the
  // node of this rank. Feed locality-aware routers and the cross-node statistics.
  int64_t num_nodes = 1;
  int64_t node_index = 0;
  // Training-time random token shuffle across the EP group before routing (token_shuffle.h);
  // build_moe_layer wires it. Incompatible with batch_independent and the sequence loss.
  bool shuffle_tokens = false;
};

struct MoEForwardArgs {
  int64_t step = 0;
  // Routing groups of the local tokens (see above); empty = one group.
  std::vector<int64_t> group_sizes;
  // Node of each routing group's rank (single-process references of multi-node runs); empty =
  // options.node_index for every group.
  std::vector<int64_t> group_nodes;
  // Input token ids of the tokens, [B, S] (or [T]) int64, for routers that route on them
  // (StableMoE's distilled router); undefined = none.
  at::Tensor token_ids;
  // This rank's rows of the global batch, if the caller knows them (forward_context.h); else
  // the layer all-gathers the token counts over its batch group when it needs them.
  std::optional<BatchRows> batch_rows;
};

// Wall time of the forward's stages, seconds (CPU: the work is done when the call returns).
// dispatch and combine include their all-to-all exchanges.
struct MoETiming {
  double route = 0;
  double dispatch = 0;
  double experts = 0;
  double combine = 0;
  MoETiming& operator+=(const MoETiming& o) {
    route += o.route;
    dispatch += o.dispatch;
    experts += o.experts;
    combine += o.combine;
    return *this;
  }
};

struct MoEOutput {
  at::Tensor output;  // same shape and dtype as the input
  RoutingStats stats;
  MoETiming timing;
};

class MoELayerImpl : public torch::nn::Module {
 public:
  MoELayerImpl(const MoELayerOptions& options,
               std::shared_ptr<Router> router,
               std::shared_ptr<TokenDispatcher> dispatcher,
               std::shared_ptr<Experts> experts,
               AuxLossCollector* aux_losses,
               std::shared_ptr<comm::Communicator> host_batch_group = nullptr);

  MoEOutput forward(const at::Tensor& x, const MoEForwardArgs& args = {});

  // DeepSeek-V3 aux-loss-free balancing, after the optimizer step: the router bias moves by the
  // selection counts of the last forward summed over the batch ([E]; MoEState sums them over
  // the world for every layer in one all-reduce).
  void update_expert_bias(const std::vector<int64_t>& global_selected);

  // ERC loss (ALGORITHMS.md §2): added to the aux losses as "erc" with options.aux.erc.coeff in
  // training forwards, with its coupling-matrix statistics in MoEOutput::stats.router_metrics.
  // Collective over its EP group. build_moe_layer sets it when erc.coeff > 0.
  void set_coupling_loss(std::shared_ptr<ExpertRouterCouplingLoss> erc) { erc_ = std::move(erc); }

  // Token shuffle of training forwards (options.shuffle_tokens; collective over its EP group).
  // The shuffle's exchanges count in MoETiming::dispatch and ::combine; last_routing() and
  // last_plan() then describe the shuffled tokens.
  void set_token_shuffle(std::shared_ptr<TokenShuffle> shuffle) { shuffle_ = std::move(shuffle); }

  Router& router() { return *router_; }
  Experts& experts() { return *experts_; }
  const MoELayerOptions& options() const { return options_; }
  // The last forward's routing and plan (tests, debugging).
  const RoutingResult& last_routing() const { return last_routing_; }
  const DispatchPlan& last_plan() const { return last_plan_; }
  // The last forward's routing statistics (this rank's tokens).
  const RoutingStats& last_stats() const { return last_stats_; }

 private:
  // The pieces of forward(), in order.
  RoutingContext routing_context(int64_t num_tokens,
                                 int64_t seq_len,
                                 const MoEForwardArgs& args) const;
  // Shuffles tokens (and the context's token ids) across the EP group: [T, H] -> [T', H].
  at::Tensor shuffle(const at::Tensor& tokens, RoutingContext* context, ShuffleHandle* handle);
  // Sets context->row_offset / global_rows when this forward draws batch-wide noise.
  void locate_rows(int64_t num_tokens,
                   const MoEForwardArgs& args,
                   const ShuffleHandle* shuffle,
                   RoutingContext* context) const;
  // Adds the layer's aux losses (balance, z, DPSL, the router's own, ERC) to the collector;
  // returns the ERC coupling-matrix statistics for the metrics.
  std::vector<std::pair<std::string, double>> add_losses(RoutingResult* routing,
                                                         const RoutingContext& context,
                                                         int64_t seq_len);

  MoELayerOptions options_;
  std::shared_ptr<Router> router_;
  std::shared_ptr<TokenDispatcher> dispatcher_;
  std::shared_ptr<Experts> experts_;
  AuxLossCollector* aux_losses_;
  std::shared_ptr<comm::Communicator> host_batch_group_;
  std::shared_ptr<ExpertRouterCouplingLoss> erc_;
  std::shared_ptr<TokenShuffle> shuffle_;
  RoutingResult last_routing_;
  DispatchPlan last_plan_;
  RoutingStats last_stats_;
};

TORCH_MODULE(MoELayer);

}  // namespace switchyard::models
