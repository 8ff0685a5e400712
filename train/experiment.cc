#include "train/experiment.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/make_communicator.h"
#include "core/config/config_validation.h"
#include "core/errors.h"
#include "models/moe/moe_builder.h"
#include "train/data/tokenizer_loader.h"
#include "train/indexed_batch_source.h"

namespace switchyard::train {
namespace {

bool is_moe_layer(const config::ModelConfig& m, int64_t layer) {
  return m.moe_every_n_layers() > 0 && (layer + 1) % m.moe_every_n_layers() == 0;
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
  o.fused_kernels = m.kernels() != config::ModelConfig::GENERIC;
  return o;
}

Experiment build_experiment(const config::ExperimentConfig& c,
                            const comm::ProcessGroups& groups,
                            const ExperimentExtensions& extensions) {
  Experiment e;
  const config::ModelConfig& m = c.model();
  if (groups.world->rank() == 0) {
    for (const auto& w : config::find_config_warnings(c)) spdlog::warn("{}: {}", w.path, w.reason);
  }
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
  std::shared_ptr<comm::AllToAll> all_to_all;
  comm::NodePhaseAllToAlls dedup;  // node-deduplicated dispatch (docs/dedup.md); null = off
  if (m.moe_every_n_layers() > 0 && groups.expert_parallel_size > 1) {
    // SMILE's bi-level dispatch is the inter-node-first two-phase exchange (arXiv 2212.05191).
    const comm::AllToAllAlgorithm algorithm = router_kind == config::RouterConfig::SMILE
                                                  ? comm::AllToAllAlgorithm::kInterFirst
                                                  : comm::all_to_all_algorithm(c.comm());
    all_to_all = comm::make_all_to_all(algorithm, groups);
    // comm.deduplicate_tokens applies to the hierarchical exchange over >= 2 nodes of >= 2 ranks.
    if (c.comm().deduplicate_tokens() && algorithm == comm::AllToAllAlgorithm::kHierarchical) {
      dedup = comm::make_node_phase_all_to_alls(groups);
    }
    if (groups.world->rank() == 0) {
      spdlog::info("MoE token exchange: {}{}{}", comm::algorithm_name(algorithm),
                   dedup.inter_node != nullptr ? " with node deduplication" : "",
                   c.comm().overlap_chunks() > 1
                       ? ", pipelined in " + std::to_string(c.comm().overlap_chunks()) + " chunks"
                       : std::string());
    }
  }
  e.moe = std::make_shared<models::MoEState>(groups.host_world, all_to_all,
                                             m.moe().router().aux_free_bias().enabled());
  e.moe->add_traffic_source(dedup.inter_node);
  e.moe->add_traffic_source(dedup.intra_node);
  // Dense parameters: the same initialization on every rank.
  at::manual_seed(c.train().seed());
  models::FeedForwardFactory factory = [&](int64_t layer) -> std::shared_ptr<models::FeedForward> {
    if (!is_moe_layer(m, layer)) return nullptr;
    models::MoEBuildOptions options = models::moe_options_from_config(
        m.moe(), m.hidden_size(), m.seq_length(), layer, c.train().seed(), ep_num_nodes);
    if (!extensions.router_kind.empty()) options.router.kind = extensions.router_kind;
    options.router.vocab_size = m.vocab_size();  // StableMoE's distilled router
    models::MoEParallel parallel;
    if (groups.expert_parallel_size > 1) {
      parallel.expert_group = groups.expert;
      parallel.host_expert_group = groups.host_expert;
      parallel.all_to_all = all_to_all;
      parallel.host_batch_group = groups.host_world;
      parallel.dedup_inter_node = dedup.inter_node;
      parallel.dedup_intra_node = dedup.intra_node;
      parallel.overlap_chunks = c.comm().overlap_chunks();
    }
    models::MoELayer moe =
        models::build_moe_layer(options, parallel, e.moe->aux_losses(), extensions.routers);
    e.moe->add_layer(moe);
    models::MoEFeedForward ffn(moe);
    e.moe_layers.push_back(ffn);
    return ffn.ptr();
  };
  e.model = models::LanguageModel(language_model_options(c), factory);

  std::set<const void*> expert_tensors;
  for (models::MoELayer layer : e.moe->layers()) {  // (holder copies)
    for (const at::Tensor& p : layer->experts().parameters()) {
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
  o.optimizer.fused_cpu = c.model().kernels() != config::ModelConfig::GENERIC;
  o.grad_clip = t.optimizer().grad_clip();
  o.eval_every = t.eval_every();
  o.eval_batches = t.eval_batches();
  o.log_every = c.logging().log_every();
  o.run_dir = c.logging().jsonl() ? c.logging().run_dir() : "";
  o.tensorboard_dir = c.logging().tensorboard() ? c.logging().run_dir() : "";
  o.checkpoint_dir =
      c.checkpoint().dir().empty() ? c.logging().run_dir() + "/checkpoints" : c.checkpoint().dir();
  o.checkpoint_every = c.checkpoint().every_steps();
  o.keep_last = c.checkpoint().keep_last();
  o.resume = c.checkpoint().resume();
  o.routing_probe_every = c.logging().routing_probe_every();
  // The probe's Dirichlet distance uses the DPSL prior (symmetric 1.0 when DPSL is off).
  o.routing_probe_prior = models::moe_options_from_config(c.model().moe(), c.model().hidden_size(),
                                                          c.model().seq_length(), 0, 0)
                              .layer.aux.dpsl_prior;
  o.config = c;
  if (t.precision() == config::TrainConfig::BF16) o.compute_dtype = at::kBFloat16;
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

std::unique_ptr<data::Tokenizer> load_tokenizer(const config::ExperimentConfig& c) {
  const config::DataConfig& d = c.data();
  if (d.tokenizer() == config::DataConfig::BYTE) return data::load_tokenizer("byte", "");
  if (d.tokenizer_model().empty()) {
    throw ConfigError("data.tokenizer_model", "must name a SentencePiece .model file");
  }
  return data::load_tokenizer(d.tokenizer_model(), "data.tokenizer_model");
}

std::shared_ptr<const BatchSource> load_training_data(const config::ExperimentConfig& c,
                                                      const data::Tokenizer& tokenizer,
                                                      int rank,
                                                      int world_size) {
  const config::DataConfig& d = c.data();
  // Every format: the tokenizer encodes prompts and text, so none of its ids may exceed the model.
  check_vocab_fits(tokenizer, c.model().vocab_size());
  if (d.format() != config::DataConfig::INDEXED) {
    CorpusOptions o = corpus_options(c);
    o.tokenizer = &tokenizer;
    return std::make_shared<CorpusBatchSource>(
        load_corpus(o), corpus_sampler_options(trainer_options(c), rank, world_size));
  }
  // The dataset's vocabulary may be below the model's (padded), and it must have been prepared
  // with this tokenizer.
  data::IndexExpectations expect;
  expect.vocab_size = static_cast<uint64_t>(c.model().vocab_size());
  expect.vocab_may_be_smaller = true;
  expect.tokenizer_digest = tokenizer.digest();
  expect.tokenizer_name = tokenizer.description();
  IndexedSourceOptions o;
  o.global_batch_size = c.train().global_batch_size();
  o.seq_length = c.model().seq_length();
  o.val_fraction = d.val_fraction();
  o.split_seed = d.split_seed();
  o.seed = c.train().seed();
  o.rank = rank;
  o.world_size = world_size;
  if (d.blend_size() == 0) {
    return std::make_shared<IndexedBatchSource>(
        data::IndexedDataset::open(d.path(), expect, "data.path"), o);
  }
  std::vector<data::IndexedDataset> datasets;
  std::vector<double> weights;
  for (int i = 0; i < d.blend_size(); ++i) {
    const std::string field = "data.blend[" + std::to_string(i) + "].path";
    datasets.push_back(data::IndexedDataset::open(d.blend(i).path(), expect, field));
    weights.push_back(d.blend(i).weight());
  }
  return std::make_shared<IndexedBatchSource>(std::move(datasets), weights, o);
}

models::SamplingOptions sampling_options(const config::ExperimentConfig& c) {
  models::SamplingOptions o;
  o.max_new_tokens = c.generate().max_new_tokens();
  o.temperature = c.generate().temperature();
  o.top_k = c.generate().top_k();
  return o;
}

}  // namespace switchyard::train
