#include "models/moe/moe_builder.h"

#include "core/check.h"
#include "core/config/experiment.pb.h"
#include "core/errors.h"
#include "models/moe/all_to_all_dispatcher.h"
#include "models/moe/batched_experts.h"
#include "models/moe/local_dispatcher.h"
#include "models/moe/node_dedup_dispatcher.h"
#include "models/moe/router_noise.h"
#include "models/moe/sequential_experts.h"

namespace switchyard::models {
namespace {

std::string router_kind_name(config::RouterConfig::Kind kind) {
  switch (kind) {
    case config::RouterConfig::TOP_K:
      return "top_k";
    case config::RouterConfig::GSHARD:
      return "gshard";
    case config::RouterConfig::EXPERT_CHOICE:
      return "expert_choice";
    case config::RouterConfig::STABLEMOE:
      return "stablemoe";
    case config::RouterConfig::SMILE:
      return "smile";
    case config::RouterConfig::LOCMOE:
      return "locmoe";
    default:
      throw ConfigError("model.moe.router.kind", config::RouterConfig::Kind_Name(kind) +
                                                     " is not implemented in models/moe");
  }
}

}  // namespace

MoEBuildOptions moe_options_from_config(const config::MoELayerConfig& config,
                                        int64_t hidden_size,
                                        int64_t seq_len,
                                        int64_t layer_index,
                                        uint64_t seed,
                                        int ep_num_nodes) {
  MoEBuildOptions o;
  const config::RouterConfig& rc = config.router();
  RouterOptions& r = o.router;
  r.kind = router_kind_name(rc.kind());
  r.hidden_size = hidden_size;
  r.num_experts = config.num_experts();
  r.top_k = rc.top_k();
  r.score_function = rc.score_function() == config::RouterConfig::SIGMOID ? ScoreFunction::kSigmoid
                                                                          : ScoreFunction::kSoftmax;
  r.normalize_top_k = rc.normalize_top_k();
  r.input_jitter_eps = rc.input_jitter_eps();
  r.init_std = rc.init_std();
  r.init_seed = mix_seed(seed, static_cast<uint64_t>(layer_index), 0x7275);
  switch (rc.gshard().second_expert_policy()) {
    case config::GShardConfig::DETERMINISTIC:
      r.gshard.second_expert_policy = SecondExpertPolicy::kDeterministic;
      break;
    case config::GShardConfig::SAMPLING:
      r.gshard.second_expert_policy = SecondExpertPolicy::kSampling;
      break;
    default:
      r.gshard.second_expert_policy = SecondExpertPolicy::kRandom;
      break;
  }
  r.gshard.normalize_before_dropping = rc.gshard().normalize_before_dropping();
  r.expert_choice.capacity_factor = rc.expert_choice().capacity_factor();
  r.expert_choice.per_position =
      rc.expert_choice().grouping() == config::ExpertChoiceConfig::PER_POSITION;
  r.expert_choice.seq_len = seq_len;
  r.aux_free_bias.enabled = rc.aux_free_bias().enabled();
  r.aux_free_bias.update_rate = rc.aux_free_bias().update_rate();
  r.group_limited.num_groups =
      rc.group_limited().num_groups() < 0 ? ep_num_nodes : rc.group_limited().num_groups();
  r.group_limited.group_top_k = rc.group_limited().group_top_k();
  const config::StableMoEConfig& sc = rc.stablemoe();  // vocab_size: set by the model's builder
  r.stablemoe.stage2_step = sc.stage2_step();
  r.stablemoe.bigram = sc.distilled_router() == config::StableMoEConfig::BIGRAM_EMBEDDING;
  r.stablemoe.distilled_dim = sc.distilled_dim();
  r.stablemoe.balance_coeff = sc.balance_coeff();
  r.stablemoe.distill_coeff = sc.distill_coeff();
  r.stablemoe.global_counts = sc.counts() == config::StableMoEConfig::GLOBAL;
  r.num_nodes = ep_num_nodes;
  r.smile.router_per_node = rc.smile().router_per_node();
  r.smile.balance_coeff = rc.smile().balance_coeff();
  r.smile.capacity_factor = rc.smile().capacity_factor();
  r.smile.receiver_capacity = rc.smile().receiver_capacity();
  r.locmoe.locality_coeff = rc.locmoe().locality_coeff();
  r.locmoe.grouped_average_pooling = rc.locmoe().grouped_average_pooling();
  r.locmoe.capacity_bound_delta = rc.locmoe().capacity_bound_delta();
  switch (rc.locmoe().capacity_bound()) {
    case config::LocMoEConfig::REPORT:
      r.locmoe.capacity_bound = LocMoECapacityBound::kReport;
      break;
    case config::LocMoEConfig::FLOOR:
      r.locmoe.capacity_bound = LocMoECapacityBound::kFloor;
      break;
    case config::LocMoEConfig::SET:
      r.locmoe.capacity_bound = LocMoECapacityBound::kSet;
      break;
  }
  r.locmoe.capacity_bound_units =
      rc.locmoe().capacity_bound_units() == config::LocMoEConfig::CAPACITY_FACTOR
          ? LocMoEBoundUnits::kCapacityFactor
          : LocMoEBoundUnits::kShareOfAssignments;

  const config::DispatcherConfig& dc = config.dispatcher();
  MoELayerOptions& l = o.layer;
  l.hidden_size = hidden_size;
  l.num_experts = config.num_experts();
  l.layer_index = layer_index;
  l.seed = seed;
  l.seq_len = seq_len;
  l.num_nodes = ep_num_nodes;
  l.capacity.capacity_factor = dc.capacity_factor();
  if (rc.kind() == config::RouterConfig::STABLEMOE && r.stablemoe.global_counts) {
    // StableMoE counts its capacity over the whole step (arrival order at the expert) itself.
    r.stablemoe.capacity_factor = dc.capacity_factor();
    l.capacity.capacity_factor = 0.0;
  }
  l.capacity.min_capacity = dc.min_capacity();
  l.capacity.top_k = rc.top_k();
  l.capacity.drop_policy = dc.drop_policy() == config::DispatcherConfig::PROBS ? DropPolicy::kProbs
                           : dc.drop_policy() == config::DispatcherConfig::RANDOM
                               ? DropPolicy::kRandom
                               : DropPolicy::kPosition;
  l.batch_independent = dc.batch_independent();
  l.shuffle_tokens = dc.shuffle_tokens();
  l.capacity.rectify.intra_rank = dc.rectify().intra_rank();
  l.capacity.rectify.fill_in = dc.rectify().fill_in();
  l.capacity.rectify.intra_rank_exclude_kept = dc.rectify().intra_rank_exclude_kept();
  l.capacity.rectify.fill_in_renormalize = dc.rectify().fill_in_renormalize();
  l.capacity.rectify.intra_rank_capacity_factor = dc.rectify().intra_rank_capacity_factor();
  const config::AuxLossConfig& ac = config.aux_loss();
  l.aux.load_balancing =
      ac.load_balancing() == config::AuxLossConfig::SEQUENCE ? LoadBalancingLoss::kSequence
      : ac.load_balancing() == config::AuxLossConfig::NONE   ? LoadBalancingLoss::kNone
                                                             : LoadBalancingLoss::kMicroBatch;
  l.aux.load_balancing_coeff = ac.load_balancing_coeff();
  l.aux.z_loss_coeff = ac.z_loss_coeff();
  l.aux.dpsl_coeff = ac.dpsl().coeff();
  l.aux.dpsl_prior.alpha = {ac.dpsl().symmetric_concentration()};
  if (ac.dpsl().concentration_size() > 0) {
    l.aux.dpsl_prior.alpha.assign(ac.dpsl().concentration().begin(),
                                  ac.dpsl().concentration().end());
  }
  l.aux.dpsl_warmup_only_steps = ac.dpsl().warmup_only_steps();
  l.aux.global_statistics = ac.global_statistics();
  l.aux.erc.coeff = ac.erc().coeff();
  l.aux.erc.alpha = ac.erc().alpha();
  l.aux.erc.noise = ac.erc().noise();
  l.aux.erc.router_gradient = ac.erc().router_gradient();
  l.aux.erc.measure = ac.erc().measure();

  const config::ExpertConfig& ec = config.expert();
  o.experts.kind =
      ec.kind() == config::ExpertConfig::SWIGLU ? ExpertKind::kSwiGlu : ExpertKind::kGeluMlp;
  o.experts.hidden_size = hidden_size;
  o.experts.ffn_hidden_size = ec.ffn_hidden_size();
  o.experts.init_std = rc.init_std();
  o.experts.init_seed = mix_seed(seed, static_cast<uint64_t>(layer_index), 0x6578);
  o.compute = ec.compute() == config::ExpertConfig::SEQUENTIAL ? ExpertCompute::kSequential
                                                               : ExpertCompute::kBatched;
  return o;
}

MoELayer build_moe_layer(const MoEBuildOptions& options,
                         const MoEParallel& parallel,
                         AuxLossCollector* aux_losses,
                         const RouterRegistry& registry) {
  const int64_t num_experts = options.layer.num_experts;
  const std::shared_ptr<comm::Communicator> host_expert =
      parallel.host_expert_group != nullptr ? parallel.host_expert_group : parallel.expert_group;
  std::shared_ptr<TokenDispatcher> dispatcher;
  if (parallel.expert_group != nullptr && parallel.expert_group->size() > 1) {
    SY_CHECK(parallel.all_to_all != nullptr) << "an EP group needs an all-to-all strategy";
    if (num_experts % parallel.expert_group->size() != 0) {
      throw ConfigError("model.moe.num_experts", "must be a multiple of the expert-parallel size " +
                                                     std::to_string(parallel.expert_group->size()));
    }
    if (parallel.dedup_inter_node != nullptr && parallel.dedup_intra_node != nullptr) {
      if (parallel.overlap_chunks > 1) {
        throw ConfigError("comm.overlap_chunks",
                          "the node-deduplicated exchange does not pipeline yet: set "
                          "comm.deduplicate_tokens false to overlap, or overlap_chunks 1");
      }
      dispatcher = std::make_shared<NodeDedupDispatcher>(host_expert, parallel.dedup_inter_node,
                                                         parallel.dedup_intra_node, num_experts);
    } else {
      dispatcher = std::make_shared<AllToAllDispatcher>(host_expert, parallel.all_to_all,
                                                        num_experts, parallel.overlap_chunks);
    }
  } else {
    dispatcher = std::make_shared<LocalDispatcher>(num_experts);
  }
  ExpertOptions eo = options.experts;
  eo.num_local_experts = dispatcher->num_local_experts();
  eo.first_expert = dispatcher->first_local_expert();
  std::shared_ptr<Experts> experts;
  if (options.compute == ExpertCompute::kSequential) {
    experts = std::make_shared<SequentialExperts>(eo);
  } else {
    experts = std::make_shared<BatchedExperts>(eo);
  }
  RouterOptions ro = options.router;
  ro.num_experts = num_experts;
  MoELayerOptions lo = options.layer;
  if (parallel.expert_group != nullptr && lo.num_nodes > 1 &&
      parallel.expert_group->size() % lo.num_nodes == 0) {
    // Node-contiguous EP group: EP rank p is on node p / (P / N).
    lo.node_index = parallel.expert_group->rank() / (parallel.expert_group->size() / lo.num_nodes);
  }
  std::shared_ptr<comm::Communicator> ep_group;
  if (parallel.expert_group != nullptr && parallel.expert_group->size() > 1) {
    ep_group = parallel.expert_group;
    // Rectify-Router: the experts on this rank (intra-rank rectification).
    lo.capacity.rectify.expert_parallel_size = ep_group->size();
    lo.capacity.rectify.expert_parallel_rank = ep_group->rank();
  }
  std::shared_ptr<Router> router = registry.create(ro);
  if (lo.aux.erc.active() && !router->coupling_weight().defined()) {
    throw ConfigError(
        lo.aux.erc.coeff > 0.0 ? "model.moe.aux_loss.erc.coeff" : "model.moe.aux_loss.erc.measure",
        "router kind '" + ro.kind +
            "' has no learned router rows [E, H] to couple with the experts");
  }
  MoELayer layer(lo, router, dispatcher, experts, aux_losses, parallel.host_batch_group);
  if (lo.shuffle_tokens) {
    layer->set_token_shuffle(ep_group != nullptr
                                 ? std::make_shared<TokenShuffle>(host_expert, parallel.all_to_all)
                                 : std::make_shared<TokenShuffle>());
  }
  if (lo.aux.erc.active()) {
    layer->set_coupling_loss(
        std::make_shared<ExpertRouterCouplingLoss>(lo.aux.erc, eo.kind, ep_group));
  }
  return layer;
}

}  // namespace switchyard::models
