#include "train/experiment.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/ATen.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/make_communicator.h"
#include "core/errors.h"
#include "models/moe/moe_builder.h"
#include "train/routing_probe.h"

namespace switchyard::train {
namespace {

bool is_moe_layer(const config::ModelConfig& m, int64_t layer) {
  return m.moe_every_n_layers() > 0 && (layer + 1) % m.moe_every_n_layers() == 0;
}

// Routing statistics over the whole batch: per-expert counts summed over the world, entropy
// averaged. Collective over `world`.
nlohmann::json global_stats_json(const models::RoutingStats& s, comm::Communicator& world) {
  const int64_t e = static_cast<int64_t>(s.tokens_per_expert.size());
  const int64_t nm = static_cast<int64_t>(s.router_metrics.size());
  // [2E + 3 + nm]: selected counts, kept counts, entropy, dispatched and cross-node rows, router
  // metrics (averaged over ranks).
  at::Tensor t = at::zeros({2 * e + 3 + nm}, at::kDouble);
  t[2 * e + 1] = static_cast<double>(s.dispatched_rows);
  t[2 * e + 2] = static_cast<double>(s.cross_node_rows);
  for (int64_t i = 0; i < nm; ++i) t[2 * e + 3 + i] = s.router_metrics[i].second;
  for (int64_t i = 0; i < e; ++i) {
    t[i] = static_cast<double>(s.tokens_per_expert[i]);
    t[e + i] = static_cast<double>(s.kept_per_expert[i]);
  }
  t[2 * e] = s.router_entropy;
  world.all_reduce(t)->wait();
  std::vector<int64_t> tokens(e);
  double selected = 0, kept = 0, max_load = 0;
  for (int64_t i = 0; i < e; ++i) {
    tokens[i] = static_cast<int64_t>(t[i].item<double>());
    selected += t[i].item<double>();
    kept += t[e + i].item<double>();
    max_load = std::max(max_load, t[i].item<double>());
  }
  const double mean = e > 0 ? selected / e : 0.0;
  double var = 0;
  for (int64_t c : tokens) var += (c - mean) * (c - mean);
  var = e > 0 ? var / e : 0.0;
  const double rows = t[2 * e + 1].item<double>();
  nlohmann::json out = {
      {"tokens_per_expert", tokens},
      {"dropped_fraction", selected > 0 ? 1.0 - kept / selected : 0.0},
      {"router_entropy", t[2 * e].item<double>() / world.size()},
      {"max_over_mean_load", mean > 0 ? max_load / mean : 0.0},
      {"load_cv", mean > 0 ? std::sqrt(var) / mean : 0.0},
      // Share of the dispatched rows whose expert is on another node than the token's rank.
      {"cross_node_fraction", rows > 0 ? t[2 * e + 2].item<double>() / rows : 0.0}};
  for (int64_t i = 0; i < nm; ++i) {
    out[s.router_metrics[i].first] = t[2 * e + 3 + i].item<double>() / world.size();
  }
  return out;
}

}  // namespace

models::LanguageModelOptions language_model_options(const config::ExperimentConfig& c) {
  const config::ModelConfig& m = c.model();
  models::LanguageModelOptions o;
  o.vocab_size = m.vocab_size();
  o.hidden_size = m.hidden_size();
  o.num_layers = m.num_layers();
  o.num_heads = m.num_heads();
  o.seq_length = m.seq_length();
  o.ffn_hidden_size = m.ffn_hidden_size();
  o.norm = m.norm() == config::ModelConfig::RMSNORM ? models::NormKind::kRmsNorm
                                                    : models::NormKind::kLayerNorm;
  o.rotary = m.positions() == config::ModelConfig::ROTARY;
  o.tie_embeddings = m.tie_embeddings();
  o.dropout = m.dropout();
  return o;
}

Experiment build_experiment(const config::ExperimentConfig& c,
                            const comm::ProcessGroups& groups,
                            const ExperimentExtensions& extensions) {
  Experiment e;
  e.aux_losses = std::make_unique<models::AuxLossCollector>();
  const config::ModelConfig& m = c.model();
  const config::RouterConfig::Kind router_kind = m.moe().router().kind();
  const bool by_node =
      router_kind == config::RouterConfig::SMILE || router_kind == config::RouterConfig::LOCMOE;
  if (m.moe_every_n_layers() > 0 && by_node && groups.expert_parallel_size > 1 &&
      !groups.expert_is_node_contiguous) {
    throw ConfigError("comm.ranks_per_node",
                      config::RouterConfig::Kind_Name(router_kind) +
                          " needs expert-parallel groups of whole, equal, consecutive nodes "
                          "(topology " +
                          groups.topology.to_string() + ")");
  }
  // SMILE and LocMoE route over the nodes of the EP group.
  const int ep_num_nodes = by_node ? (groups.expert_parallel_size > 1 ? groups.expert_num_nodes : 1)
                                   : groups.topology.num_nodes;
  if (m.moe_every_n_layers() > 0 && groups.expert_parallel_size > 1) {
    // SMILE's bi-level dispatch is the inter-node-first two-phase exchange (arXiv 2212.05191).
    e.all_to_all = comm::make_all_to_all(router_kind == config::RouterConfig::SMILE
                                             ? comm::AllToAllAlgorithm::kInterFirst
                                             : comm::all_to_all_algorithm(c.comm()),
                                         groups);
  }
  // Dense parameters: the same initialization on every rank.
  at::manual_seed(c.train().seed());
  models::FeedForwardFactory factory = [&](int64_t layer) {
    if (!is_moe_layer(m, layer)) return torch::nn::AnyModule();
    models::MoEBuildOptions options = models::moe_options_from_config(
        m.moe(), m.hidden_size(), m.seq_length(), layer, c.train().seed(), ep_num_nodes);
    if (!extensions.router_kind.empty()) options.router.kind = extensions.router_kind;
    options.router.vocab_size = m.vocab_size();  // StableMoE's distilled router
    models::MoEParallel parallel;
    if (groups.expert_parallel_size > 1) {
      parallel.expert_group = groups.expert;
      parallel.all_to_all = e.all_to_all;
      parallel.batch_group = groups.world;
    }
    models::MoEFeedForward ffn(
        models::build_moe_layer(options, parallel, e.aux_losses.get(), extensions.routers));
    e.moe_layers.push_back(ffn);
    return torch::nn::AnyModule(ffn);
  };
  e.model = models::LanguageModel(language_model_options(c), factory);

  std::set<const void*> expert_tensors;
  for (auto& layer : e.moe_layers) {
    for (const at::Tensor& p : layer->layer()->experts().parameters()) {
      expert_tensors.insert(p.unsafeGetTensorImpl());
    }
  }
  const int64_t local_experts = m.moe().num_experts() / groups.expert_parallel_size;
  for (const auto& item : e.model->named_parameters()) {
    ParamSlot slot{item.key(), item.value()};
    slot.expert = expert_tensors.count(item.value().unsafeGetTensorImpl()) > 0;
    if (slot.expert) slot.first_expert = groups.expert->rank() * local_experts;
    e.params.push_back(slot);
  }

  auto layers = e.moe_layers;
  auto world = groups.world;
  auto a2a = e.all_to_all;
  e.hooks.aux_losses = e.aux_losses.get();
  e.hooks.set_step = [layers](int64_t step) mutable {
    for (auto& l : layers) l->set_step(step);
  };
  e.hooks.routing_metrics = [layers, a2a, world]() mutable {
    nlohmann::json out = nlohmann::json::array();
    for (auto& l : layers) out.push_back(global_stats_json(l->last_stats(), *world));
    nlohmann::json r = {{"layers", out}};
    if (a2a) {
      // Payload traffic of this step's exchanges (forward and backward), this rank.
      const comm::TrafficCounters t = a2a->traffic();
      a2a->reset_traffic();
      r["a2a"] = {{"intra_node_bytes", t.intra_node_bytes},
                  {"inter_node_bytes", t.inter_node_bytes},
                  {"intra_node_messages", t.intra_node_messages},
                  {"inter_node_messages", t.inter_node_messages}};
    }
    return r;
  };
  e.hooks.stage_times = [layers]() {
    models::MoETiming t;
    for (const auto& l : layers) t += l->timing();
    return nlohmann::json{{"moe_route_forward", t.route},
                          {"moe_dispatch_forward", t.dispatch},
                          {"moe_experts_forward", t.experts},
                          {"moe_combine_forward", t.combine}};
  };
  // DeepSeek-V3 aux-loss-free balancing: bias update from the step's global expert loads.
  e.hooks.after_optimizer_step = [layers, world]() mutable {
    for (auto& l : layers) l->layer()->update_expert_bias(world.get());
  };
  if (!m.moe().router().aux_free_bias().enabled()) e.hooks.after_optimizer_step = nullptr;
  // StableMoE stage per layer: saved in checkpoint manifests, restored on resume.
  e.hooks.router_stages = [layers]() mutable {
    std::vector<int> stages;
    for (auto& l : layers) stages.push_back(l->layer()->router().stage());
    return stages;
  };
  e.hooks.restore_router_stages = [layers](const std::vector<int>& stages) mutable {
    if (stages.size() != layers.size()) {
      throw Error("checkpoint stores " + std::to_string(stages.size()) +
                  " router stages, the model has " + std::to_string(layers.size()) + " MoE layers");
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      if (stages[i] != 0) layers[i]->layer()->router().restore_stage(stages[i]);
    }
  };
  if (!layers.empty()) {
    // Routing fluctuation and Dirichlet distance of the probe batch (train/routing_probe.h).
    const models::MoEBuildOptions probe_options =
        models::moe_options_from_config(m.moe(), m.hidden_size(), m.seq_length(), 0, 0);
    auto probe = std::make_shared<RoutingProbe>(layers, world, probe_options.layer.aux.dpsl_prior);
    e.hooks.routing_probe = [probe]() { return probe->measure(); };
  }
  if (layers.empty()) {
    e.hooks.set_step = nullptr;
    e.hooks.routing_metrics = nullptr;
    e.hooks.stage_times = nullptr;
    e.hooks.after_optimizer_step = nullptr;
    e.hooks.router_stages = nullptr;
    e.hooks.restore_router_stages = nullptr;
    e.hooks.routing_probe = nullptr;
  }
  return e;
}

TrainerOptions trainer_options(const config::ExperimentConfig& c) {
  TrainerOptions o;
  const config::TrainConfig& t = c.train();
  o.num_steps = t.num_steps();
  o.global_batch_size = t.global_batch_size();
  o.seq_length = c.model().seq_length();
  o.vocab_size = c.model().vocab_size();
  o.seed = t.seed();
  o.lr.peak = t.optimizer().learning_rate();
  o.lr.min = t.optimizer().min_learning_rate();
  o.lr.warmup_steps = t.optimizer().warmup_steps();
  o.lr.total_steps = t.num_steps();
  o.lr.decay = t.optimizer().schedule() == config::OptimizerConfig::CONSTANT ? LrDecay::kConstant
                                                                             : LrDecay::kCosine;
  o.optimizer.learning_rate = t.optimizer().learning_rate();
  o.optimizer.weight_decay = t.optimizer().weight_decay();
  o.optimizer.beta1 = t.optimizer().beta1();
  o.optimizer.beta2 = t.optimizer().beta2();
  o.optimizer.epsilon = t.optimizer().epsilon();
  o.grad_clip = t.optimizer().grad_clip();
  o.eval_every = t.eval_every();
  o.eval_batches = t.eval_batches();
  o.log_every = c.logging().log_every();
  o.run_dir = c.logging().jsonl() ? c.logging().run_dir() : "";
  o.checkpoint_dir =
      c.checkpoint().dir().empty() ? c.logging().run_dir() + "/checkpoints" : c.checkpoint().dir();
  o.checkpoint_every = c.checkpoint().every_steps();
  o.keep_last = c.checkpoint().keep_last();
  o.resume = c.checkpoint().resume();
  o.routing_probe_every = c.logging().routing_probe_every();
  o.config = c;
  return o;
}

CorpusOptions corpus_options(const config::ExperimentConfig& c) {
  CorpusOptions o;
  o.path = c.data().path();
  o.format = c.data().format() == config::DataConfig::TOKENS_U16 ? CorpusFormat::kTokensU16
                                                                 : CorpusFormat::kText;
  o.val_fraction = c.data().val_fraction();
  o.seq_length = c.model().seq_length();
  o.vocab_size = c.model().vocab_size();
  return o;
}

models::SamplingOptions sampling_options(const config::ExperimentConfig& c) {
  models::SamplingOptions o;
  o.max_new_tokens = c.generate().max_new_tokens();
  o.temperature = c.generate().temperature();
  o.top_k = c.generate().top_k();
  return o;
}

}  // namespace switchyard::train
