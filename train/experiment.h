// File: train/experiment.h
//
// The only train/ file that reads the config proto: an ExperimentConfig and the process groups
// become the model (dense or MoE blocks), its parameter layout, its MoE state and the trainer's
// options.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/process_groups.h"
#include "core/config/experiment.pb.h"
#include "models/moe/moe_state.h"
#include "models/moe/router_registry.h"
#include "models/transformer/language_model.h"
#include "models/transformer/moe_feed_forward.h"
#include "models/transformer/sampling.h"
#include "train/batch_source.h"
#include "train/corpus.h"
#include "train/data/tokenizer.h"
#include "train/trainer.h"

namespace switchyard::train {

struct Experiment {
  models::LanguageModel model{nullptr};
  std::vector<ParamSlot> params;
  // The MoE layers' step state (aux losses, bias updates, statistics, stages); never null, empty
  // for a dense model. The trainer reaches the MoE layers only through it.
  std::shared_ptr<models::MoEState> moe;
  // The MoE feed-forward modules in block order (tests: routing groups of a reference run).
  std::vector<models::MoEFeedForward> moe_layers;
};

// For programs that build experiments in their own code (examples/custom_router/): routers
// added without editing the library.
struct ExperimentExtensions {
  // The router kinds MoE layers are built from; add yours with routers.add(name, factory).
  models::RouterRegistry routers = models::RouterRegistry::with_builtins();
  // When not empty, every MoE layer uses this registered kind instead of model.moe.router.kind;
  // the other router fields still reach the factory through RouterOptions.
  std::string router_kind;
};

// Builds the model with identical dense parameters on every rank (seeded by train.seed) and this
// rank's experts. Not collective.
Experiment build_experiment(const config::ExperimentConfig& config,
                            const comm::ProcessGroups& groups,
                            const ExperimentExtensions& extensions = {});

TrainerOptions trainer_options(const config::ExperimentConfig& config);
CorpusOptions corpus_options(const config::ExperimentConfig& config);
// The tokenizer of data.tokenizer: bytes, or the SentencePiece model data.tokenizer_model
// (ConfigError naming the field and the file when it cannot be loaded).
std::unique_ptr<data::Tokenizer> load_tokenizer(const config::ExperimentConfig& config);
// This rank's batches of data.format (TEXT tokenized by `tokenizer`, TOKENS_U16, or INDEXED,
// whose dataset must have been prepared with `tokenizer` and fit model.vocab_size). Bad files are
// a one-line ConfigError naming data.path.
std::shared_ptr<const BatchSource> load_training_data(const config::ExperimentConfig& config,
                                                      const data::Tokenizer& tokenizer,
                                                      int rank,
                                                      int world_size);
models::SamplingOptions sampling_options(const config::ExperimentConfig& config);
models::LanguageModelOptions language_model_options(const config::ExperimentConfig& config);

}  // namespace switchyard::train
