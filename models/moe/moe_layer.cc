#include "models/moe/moe_layer.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include <ATen/ATen.h>

#include "comm/host_collectives.h"
#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/global_aux_statistics.h"
#include "models/moe/router_noise.h"
#include "models/moe/token_shuffle.h"
#include "models/precision.h"

namespace switchyard::models {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

MoELayerImpl::MoELayerImpl(const MoELayerOptions& options,
                           std::shared_ptr<Router> router,
                           std::shared_ptr<TokenDispatcher> dispatcher,
                           std::shared_ptr<Experts> experts,
                           AuxLossCollector* aux_losses,
                           std::shared_ptr<comm::Communicator> host_batch_group)
    : options_(options),
      router_(std::move(router)),
      dispatcher_(std::move(dispatcher)),
      experts_(std::move(experts)),
      aux_losses_(aux_losses),
      host_batch_group_(std::move(host_batch_group)) {
  SY_CHECK(router_ && dispatcher_ && experts_) << "router, dispatcher and experts are required";
  SY_CHECK_EQ(router_->num_experts(), options_.num_experts);
  SY_CHECK_EQ(dispatcher_->num_local_experts(), experts_->num_local_experts());
  register_module("router", router_);
  register_module("experts", experts_);
}

RoutingContext MoELayerImpl::routing_context(int64_t num_tokens,
                                             int64_t seq_len,
                                             const MoEForwardArgs& args) const {
  RoutingContext context;
  context.seed = mix_seed(options_.seed, static_cast<uint64_t>(options_.layer_index),
                          static_cast<uint64_t>(args.step));
  context.training = is_training();
  context.group_sizes = args.group_sizes;
  context.step = args.step;
  context.token_ids = args.token_ids;
  context.count_group = host_batch_group_.get();
  if (options_.batch_independent) {
    SY_CHECK_GT(seq_len, 0) << "batch-independent mode needs the sequence length";
    context.group_sizes = sequence_groups(num_tokens, seq_len);
  }
  if (!args.group_nodes.empty() && !options_.batch_independent) {
    SY_CHECK_EQ(args.group_nodes.size(), args.group_sizes.size()) << "one node per routing group";
    context.group_nodes = args.group_nodes;
  } else {
    context.group_nodes.assign(std::max<size_t>(context.group_sizes.size(), 1),
                               options_.node_index);
  }
  return context;
}

at::Tensor MoELayerImpl::shuffle(const at::Tensor& tokens,
                                 RoutingContext* context,
                                 ShuffleHandle* handle) {
  SY_CHECK(!options_.batch_independent &&
           options_.aux.load_balancing != LoadBalancingLoss::kSequence)
      << "the token shuffle breaks sequences: no batch-independent mode or sequence loss";
  *handle = shuffle_->plan(tokens.size(0), context->group_sizes, context->seed);
  at::Tensor shuffled = shuffle_->forward(tokens, *handle);  // [T', H]
  if (context->token_ids.defined()) {
    at::Tensor ids = context->token_ids.dim() == 1 ? context->token_ids.unsqueeze(0)
                                                   : context->token_ids;  // [B, S]
    at::Tensor prev = at::cat({ids.narrow(1, 0, 1), ids.narrow(1, 0, ids.size(1) - 1)}, 1);
    at::Tensor pairs = at::stack({ids.reshape({-1}), prev.reshape({-1})}, 1).to(at::kLong);
    pairs = shuffle_->forward(pairs, *handle);             // [T, 2] -> [T', 2] (id, predecessor id)
    context->token_ids = pairs.select(1, 0).contiguous();  // [T']
    context->previous_token_ids = pairs.select(1, 1).contiguous();  // [T']
  }
  context->group_sizes = handle->shuffled_group_sizes;
  return shuffled;
}

void MoELayerImpl::locate_rows(int64_t num_tokens,
                               const MoEForwardArgs& args,
                               const ShuffleHandle* shuffle,
                               RoutingContext* context) const {
  const CapacityOptions& cap = options_.capacity;
  const bool random_drops = cap.capacity_factor > 0.0 && cap.drop_policy == DropPolicy::kRandom;
  if (!router_->uses_batch_noise(context->training) && !random_drops) return;
  if (args.batch_rows.has_value()) {
    context->row_offset = args.batch_rows->offset;
    context->global_rows = args.batch_rows->global;
    if (shuffle != nullptr && shuffle->distributed) {
      // The caller's rows are pre-shuffle, equal on every rank (T each): this EP group starts at
      // offset - ep_rank * T, and its ranks now hold T'_r = column sums of the shuffle matrix.
      const comm::AllToAllLayout& layout = shuffle->layout;
      int64_t before = 0;
      for (int r = 0; r < layout.rank(); ++r) {
        for (int src = 0; src < layout.size(); ++src) before += layout.count(src, r);
      }
      context->row_offset += before - layout.rank() * shuffle->input_rows;
    }
    return;
  }
  if (host_batch_group_ == nullptr) return;
  // [W] token counts of the batch group, rank-ordered: one all-gather.
  const std::vector<int64_t> all = comm::all_gather(*host_batch_group_, {num_tokens});
  context->row_offset =
      std::accumulate(all.begin(), all.begin() + host_batch_group_->rank(), int64_t{0});
  context->global_rows = std::accumulate(all.begin(), all.end(), int64_t{0});
}

std::vector<std::pair<std::string, double>> MoELayerImpl::add_losses(RoutingResult* routing,
                                                                     const RoutingContext& context,
                                                                     int64_t seq_len) {
  std::vector<std::pair<std::string, double>> erc_stats;
  if (aux_losses_ == nullptr) {
    routing->losses.clear();
    return erc_stats;
  }
  const AuxLossOptions& aux = options_.aux;
  const int64_t layer = options_.layer_index;
  const bool micro_batch = routing->balance_ids.defined() && aux.load_balancing_coeff > 0.0 &&
                           aux.load_balancing == LoadBalancingLoss::kMicroBatch;
  const bool dpsl_on =
      aux.dpsl_coeff > 0.0 && context.training &&
      (aux.dpsl_warmup_only_steps <= 0 || context.step < aux.dpsl_warmup_only_steps);
  at::Tensor dpsl_probs;  // [T, E] scores normalized per token
  if (dpsl_on) {
    dpsl_probs = routing->scores / routing->scores.sum(-1, /*keepdim=*/true).clamp_min(1e-20);
  }
  GlobalAuxStatistics global;  // aux_loss.global_statistics: one all-gather per layer-step
  const bool use_global = aux.global_statistics && (micro_batch || dpsl_on);
  if (use_global) {
    at::Tensor counts = at::zeros({options_.num_experts}, at::kLong);  // [E]
    if (micro_batch) {
      at::Tensor ids = routing->balance_ids;
      counts = at::bincount(ids.masked_select(ids.ge(0)), {}, options_.num_experts);
    }
    global =
        gather_aux_statistics(counts, routing->scores.size(0), dpsl_probs, context.count_group);
  }
  if (routing->balance_ids.defined() && aux.load_balancing_coeff > 0.0) {
    if (micro_batch && use_global) {
      aux_losses_->add(layer, "load_balancing",
                       global_load_balancing_loss(routing->scores, global, routing->balance_k),
                       aux.load_balancing_coeff);
    } else if (aux.load_balancing == LoadBalancingLoss::kMicroBatch) {
      aux_losses_->add(layer, "load_balancing",
                       load_balancing_loss(routing->scores, routing->balance_ids,
                                           routing->balance_k, context.group_sizes),
                       aux.load_balancing_coeff);
    } else if (aux.load_balancing == LoadBalancingLoss::kSequence) {
      SY_CHECK_GT(seq_len, 0) << "the sequence load-balancing loss needs the sequence length";
      aux_losses_->add(layer, "seq_load_balancing",
                       sequence_load_balancing_loss(routing->scores, routing->balance_ids,
                                                    routing->balance_k, seq_len),
                       aux.load_balancing_coeff);
    }
  }
  if (aux.z_loss_coeff > 0.0) {
    aux_losses_->add(layer, "z_loss", z_loss(routing->logits, context.group_sizes),
                     aux.z_loss_coeff);
  }
  if (dpsl_on) {
    aux_losses_->add(layer, "dpsl",
                     use_global ? global_dpsl_loss(dpsl_probs, aux.dpsl_prior, global)
                                : dpsl_loss(dpsl_probs, aux.dpsl_prior, context.group_sizes),
                     aux.dpsl_coeff);
  }
  for (RouterLoss& loss : routing->losses) {
    if (loss.coeff > 0.0) aux_losses_->add(layer, loss.name, std::move(loss.value), loss.coeff);
  }
  routing->losses.clear();
  if (erc_ != nullptr && context.training && aux.erc.active()) {
    if (aux.erc.coeff > 0.0) {
      ErcResult erc = erc_->compute(router_->coupling_weight(), experts_->w1(), context.seed);
      aux_losses_->add(layer, "erc", erc.loss, aux.erc.coeff);
      erc_stats = erc_matrix_stats(erc.matrix, aux.erc.alpha);
    } else {
      // erc.measure with coeff 0: the same M (same noise draw) for the metrics only.
      at::NoGradGuard no_grad;
      const ErcResult erc = erc_->compute(router_->coupling_weight(), experts_->w1(), context.seed);
      erc_stats = erc_matrix_stats(erc.matrix, aux.erc.alpha);
    }
  }
  return erc_stats;
}

MoEOutput MoELayerImpl::forward(const at::Tensor& x, const MoEForwardArgs& args) {
  SY_CHECK(x.dim() == 2 || x.dim() == 3) << "MoE input must be [T, H] or [B, S, H]";
  const int64_t hidden = x.size(-1);
  SY_CHECK_EQ(hidden, options_.hidden_size);
  const int64_t seq_len = x.dim() == 3 ? x.size(1) : options_.seq_len;
  at::Tensor tokens = x.reshape({-1, hidden});  // [T, H]

  const Clock::time_point t0 = Clock::now();
  RoutingContext context = routing_context(tokens.size(0), seq_len, args);
  // Training-time token shuffle across the EP group (token_shuffle.h): the layer routes and
  // computes the shuffled tokens, and its output is unshuffled at the end.
  const bool shuffled = shuffle_ != nullptr && context.training;
  ShuffleHandle shuffle_handle;
  double shuffle_seconds = 0;  // the forward shuffle: counted as dispatch, not routing
  if (shuffled) {
    const Clock::time_point s0 = Clock::now();
    tokens = shuffle(tokens, &context, &shuffle_handle);  // [T', H]
    shuffle_seconds = seconds_between(s0, Clock::now());
  }
  locate_rows(tokens.size(0), args, shuffled ? &shuffle_handle : nullptr, &context);
  // The matrix products' dtype of the caller's scope (bfloat16 under train.precision BF16): the
  // dtype of the exchanged tokens and of the experts' math.
  const at::ScalarType payload_dtype = compute_dtype(tokens.device().type());
  RoutingResult routing;
  DispatchPlan plan;
  std::vector<std::pair<std::string, double>> erc_stats;
  {
    // Router logits, softmax, gates and every auxiliary loss in float32, whatever the caller's
    // precision.
    AutocastScope fp32(tokens.device().type(), std::nullopt);
    routing = router_->route(tokens.to(at::kFloat), context);
    erc_stats = add_losses(&routing, context, seq_len);
    plan = make_dispatch_plan(routing, options_.num_experts,
                              effective_capacity(options_.capacity, routing), context.group_sizes,
                              context);
  }
  const Clock::time_point t1 = Clock::now();
  // dispatch -> experts -> combine (pipelined with comm.overlap_chunks > 1)
  ExpertPass pass = dispatcher_->run_experts(tokens.to(payload_dtype), plan, *experts_);
  const Clock::time_point t2 = Clock::now();
  at::Tensor combined = pass.combined;                                   // [T', H]
  if (shuffled) combined = shuffle_->inverse(combined, shuffle_handle);  // [T, H]
  const Clock::time_point t3 = Clock::now();

  MoEOutput out;
  // The pass's own split of t1..t2; its overhead outside the three parts counts as combine.
  const double pass_rest =
      seconds_between(t1, t2) - pass.dispatch_seconds - pass.expert_seconds - pass.combine_seconds;
  out.timing =
      MoETiming{seconds_between(t0, t1) - shuffle_seconds, pass.dispatch_seconds + shuffle_seconds,
                pass.expert_seconds, pass.combine_seconds + pass_rest + seconds_between(t2, t3)};
  out.output = combined.to(x.scalar_type()).view(x.sizes());
  out.stats = compute_routing_stats(routing, plan);
  count_cross_node_rows(plan, context.group_sizes, context.group_nodes, options_.num_nodes,
                        &out.stats);
  // Inter-node accounting of the dispatch, with and without node deduplication.
  const int64_t row_bytes = hidden * static_cast<int64_t>(c10::elementSize(payload_dtype));
  out.stats.inter_node_bytes_without_dedup = out.stats.cross_node_rows * row_bytes;
  if (pass.handle.inter_node_rows >= 0) {
    out.stats.inter_node_rows = pass.handle.inter_node_rows;
    out.stats.inter_node_bytes = pass.handle.inter_node_bytes;
  } else {
    out.stats.inter_node_rows = out.stats.cross_node_rows;
    out.stats.inter_node_bytes = out.stats.inter_node_bytes_without_dedup;
  }
  out.stats.router_metrics.insert(out.stats.router_metrics.end(), erc_stats.begin(),
                                  erc_stats.end());
  last_routing_ = std::move(routing);
  last_plan_ = std::move(plan);
  last_stats_ = out.stats;
  return out;
}

void MoELayerImpl::update_expert_bias(const std::vector<int64_t>& global_selected) {
  if (last_plan_.selected_per_expert.empty()) return;
  SY_CHECK_EQ(static_cast<int64_t>(global_selected.size()), options_.num_experts);
  router_->update_expert_bias(
      at::tensor(global_selected, at::kLong).to(experts_->w1().device()));  // [E]
}

}  // namespace switchyard::models
