// File: train/trainer.h
//
// The training loop: data-parallel over the world with expert parallelism inside it.
//
// One step (every rank, in lockstep):
//   1. learning rate from the schedule; the default generator reseeded from (seed, step) so that
//      dropout is a function of the step (exact resume);
//   2. this rank's rows of the global batch (a BatchSource, batch_source.h: a pure function of
//      the step, so the data position is the step);
//   3. forward, loss = mean token cross-entropy + the MoE layers' weighted aux losses; backward;
//   4. gradient synchronization (dense over the world, experts over expert-data; bucketed);
//   5. global gradient norm (each parameter once) and the world's sum of the loss; a non-finite
//      norm or loss (task + aux: an aux loss can be inf with a finite gradient) skips the step
//      on every rank with one warning (rank 0); otherwise clip and step;
//   6. metrics (rank 0: progress line, metrics.jsonl), periodic evaluation and checkpoints.
// Checkpoints are topology independent (train/model_state.h) and atomic
// (train/checkpoint_store.h); a run resumes from the newest one automatically.
//
// Collective: every rank constructs the Trainer and calls run() with the same options.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm/process_groups.h"
#include "core/config/experiment.pb.h"
#include "models/forward_context.h"
#include "models/moe/dpsl_loss.h"
#include "models/moe/moe_state.h"
#include "models/transformer/language_model.h"
#include "train/batch_source.h"
#include "train/corpus.h"
#include "train/grad_sync.h"
#include "train/lr_schedule.h"
#include "train/model_state.h"
#include "train/optimizer.h"
#include "train/routing_probe.h"

namespace switchyard::train {

struct TrainerOptions {
  int64_t num_steps = 100;
  int64_t global_batch_size = 12;
  int64_t seq_length = 64;
  int64_t vocab_size = 256;
  uint64_t seed = 1337;
  LrScheduleOptions lr;
  OptimizerOptions optimizer;
  double grad_clip = 1.0;
  int64_t eval_every = 0;  // 0 = only at the end
  int64_t eval_batches = 20;
  int64_t log_every = 10;
  std::string run_dir;          // metrics.jsonl goes here (rank 0); empty = no file
  std::string tensorboard_dir;  // TensorBoard event files go here (rank 0); empty = none
  std::string checkpoint_dir;   // empty = no checkpoints
  int64_t checkpoint_every = 0;
  int keep_last = 3;
  bool resume = true;
  bool print_progress = true;
  // Stop (checkpoint and return, as on a stop request) once this many steps are done; -1 = no.
  int64_t stop_at_step = -1;
  // Every N steps route the fixed probe batch (validation batch 0, eval mode, no gradient) and
  // log its routing quality (routing_probe.h) as "routing_probe" in metrics.jsonl; 0 = never.
  int64_t routing_probe_every = 0;
  // Dirichlet prior of the probe's "dirichlet_distance" (the DPSL prior, or symmetric 1.0).
  models::DirichletPrior routing_probe_prior;
  // Stored in checkpoint manifests (the resolved config of the run).
  config::ExperimentConfig config;
  // The tokenizer's digest ("byte" or a SentencePiece model's SHA-256) and model path, stored in
  // checkpoint manifests; resuming a checkpoint saved with another digest is an error. Empty =
  // not recorded, not checked.
  std::string tokenizer_digest;
  std::string tokenizer_model;
  // Where the model, its optimizer state and the batches live (the trainer moves the model
  // there). Checkpoints are written from and read into host copies: device-independent.
  at::Device device{at::kCPU};
  // Compute dtype of matrix products (autocast), e.g. bfloat16; nullopt = float32. Parameters,
  // gradients and optimizer state stay float32; the loss and the auxiliary losses are float32.
  std::optional<at::ScalarType> compute_dtype;
};

// Observation points for callers that watch or perturb a run (tests, instrumentation). Each may
// be empty. They run on every rank.
struct TrainerCallbacks {
  // Before the forward of training step `step` (0-based).
  std::function<void(int64_t step)> before_step;
  // After the optimizer (and the MoE bias updates) of a step that was not skipped.
  std::function<void(int64_t step)> after_optimizer_step;
};

struct TrainResult {
  int64_t steps_completed = 0;
  int64_t resumed_from = -1;  // step of the checkpoint resumed from, -1 if none
  double final_val_loss = 0;
  std::vector<double> train_losses;  // global mean loss of every step this run made
  int64_t skipped_steps = 0;
  bool stopped_early = false;  // stop requested (preemption): checkpointed and returned
};

// The sampler of a TEXT or TOKENS_U16 corpus for data-parallel rank `rank` of `world_size`: the
// global batch and sequence length of `options`, its seed.
SamplerOptions corpus_sampler_options(const TrainerOptions& options, int rank, int world_size);

class Trainer {
 public:
  // `params` lists every parameter of `model` with its layout (dense or expert). `data` gives
  // this rank's batches (built for this rank of groups.world). `moe`: the MoE layers' state
  // (train/experiment.h); null for a model without MoE layers.
  Trainer(TrainerOptions options,
          models::LanguageModel model,
          std::vector<ParamSlot> params,
          comm::ProcessGroups groups,
          std::shared_ptr<const BatchSource> data,
          std::shared_ptr<models::MoEState> moe = nullptr,
          TrainerCallbacks callbacks = {});
  // The same over an in-memory corpus (CorpusBatchSource with options.seed and the batch shape).
  Trainer(TrainerOptions options,
          models::LanguageModel model,
          std::vector<ParamSlot> params,
          comm::ProcessGroups groups,
          Corpus corpus,
          std::shared_ptr<models::MoEState> moe = nullptr,
          TrainerCallbacks callbacks = {});

  // Trains to options.num_steps (or until *stop_requested becomes true on any rank, then saves a
  // checkpoint and returns early). Collective.
  TrainResult run(const std::atomic<bool>* stop_requested = nullptr);

  // Mean validation loss over eval_batches fixed batches, averaged over the world. Collective.
  double evaluate();

  // Saves a checkpoint of `steps_completed` steps. Collective.
  void save_checkpoint(int64_t steps_completed);

  // Restores the newest checkpoint, if any; returns its step or -1. Collective.
  int64_t restore_latest();

  models::LanguageModel& model() { return model_; }

 private:
  // Runs one step; fills `times` with seconds per phase (forward, backward, grad_sync,
  // optimizer) and per forward stage (attention, MoE stages).
  double train_step(int64_t step, double* grad_norm, bool* skipped, nlohmann::json* times);
  double global_mean(double value);
  // The forward context of `batch`: this rank's rows of the global batch (every rank holds the
  // same number), the step and the timing sink.
  models::ForwardContext forward_context(const Batch& batch,
                                         int64_t step,
                                         models::StageTimes* times) const;
  // Routes the probe batch and returns its routing quality. Collective.
  nlohmann::json run_routing_probe();
  // The forward of `batch` (moved to the device) in the compute precision: [B, S, V] logits.
  at::Tensor forward(const Batch& batch, int64_t step, models::StageTimes* times);
  // Mean token cross-entropy of [B, S, V] logits against the batch's targets, in float32.
  at::Tensor token_loss(const at::Tensor& logits, const Batch& batch) const;

  TrainerOptions options_;
  models::LanguageModel model_;
  std::vector<ParamSlot> params_;
  comm::ProcessGroups groups_;
  std::shared_ptr<const BatchSource> data_;
  std::shared_ptr<models::MoEState> moe_;  // never null (empty for a dense model)
  TrainerCallbacks callbacks_;
  std::unique_ptr<RoutingProbe> probe_;  // when the model has MoE layers
  int64_t last_step_ = 0;                // of the last training forward (evaluation's seed)
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSynchronizer> grad_sync_;  // buckets allocated once
  std::vector<at::Tensor> dense_params_;
  std::vector<at::Tensor> expert_params_;
  std::vector<at::Tensor> all_params_;
};

}  // namespace switchyard::train
