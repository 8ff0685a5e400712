#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "comm/host_collectives.h"
#include "core/check.h"
#include "core/errors.h"
#include "core/seed.h"
#include "models/precision.h"
#include "train/checkpoint_store.h"
#include "train/grad_sync.h"
#include "train/metrics.h"
#include "train/tensorboard/tensorboard_log.h"

namespace switchyard::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Seed of the default generator at `step` (dropout), so that a resumed run draws what an
// uninterrupted one draws.
uint64_t step_seed(uint64_t seed, int64_t step) {
  constexpr uint64_t kDropoutStream = 0x64726f70;  // "drop"
  return mix_seed(seed, kDropoutStream, static_cast<uint64_t>(step));
}

// Model fields a checkpoint must agree on to be loaded.
void check_compatible(const config::ModelConfig& saved,
                      const config::ModelConfig& now,
                      const std::string& dir) {
  auto field = [&](const char* name, int64_t a, int64_t b) {
    if (a != b) {
      throw Error("checkpoint '" + dir + "' was saved with model." + name + " = " +
                  std::to_string(a) + ", this run has " + std::to_string(b));
    }
  };
  field("vocab_size", saved.vocab_size(), now.vocab_size());
  field("hidden_size", saved.hidden_size(), now.hidden_size());
  field("num_layers", saved.num_layers(), now.num_layers());
  field("num_heads", saved.num_heads(), now.num_heads());
  field("ffn_hidden_size", saved.ffn_hidden_size(), now.ffn_hidden_size());
  field("moe_every_n_layers", saved.moe_every_n_layers(), now.moe_every_n_layers());
  if (now.moe_every_n_layers() > 0) {
    field("moe.num_experts", saved.moe().num_experts(), now.moe().num_experts());
    field("moe.expert.ffn_hidden_size", saved.moe().expert().ffn_hidden_size(),
          now.moe().expert().ffn_hidden_size());
  }
}

// A checkpoint is resumed only with the tokenizer it was trained with (when both record one).
void check_same_tokenizer(const CheckpointManifest& saved,
                          const TrainerOptions& now,
                          const std::string& dir) {
  if (!saved.has_tokenizer_digest() || now.tokenizer_digest.empty() ||
      saved.tokenizer_digest() == now.tokenizer_digest) {
    return;
  }
  auto name = [](const std::string& digest, const std::string& model) {
    const std::string shown = digest == "byte" ? digest : "sha256 " + digest.substr(0, 12);
    return model.empty() ? shown : "'" + model + "' (" + shown + ")";
  };
  throw ConfigError("data.tokenizer_model",
                    "checkpoint '" + dir + "' was trained with tokenizer " +
                        name(saved.tokenizer_digest(), saved.tokenizer_model()) +
                        ", this run has " + name(now.tokenizer_digest, now.tokenizer_model));
}

}  // namespace

SamplerOptions corpus_sampler_options(const TrainerOptions& o, int rank, int world_size) {
  SamplerOptions s;
  s.global_batch_size = o.global_batch_size;
  s.seq_length = o.seq_length;
  s.seed = o.seed;
  s.rank = rank;
  s.world_size = world_size;
  return s;
}

Trainer::Trainer(TrainerOptions options,
                 models::LanguageModel model,
                 std::vector<ParamSlot> params,
                 comm::ProcessGroups groups,
                 Corpus corpus,
                 std::shared_ptr<models::MoEState> moe,
                 TrainerCallbacks callbacks)
    : Trainer(options,
              std::move(model),
              std::move(params),
              groups,
              std::make_shared<CorpusBatchSource>(
                  std::move(corpus),
                  corpus_sampler_options(options, groups.world->rank(), groups.world->size())),
              std::move(moe),
              std::move(callbacks)) {}

Trainer::Trainer(TrainerOptions options,
                 models::LanguageModel model,
                 std::vector<ParamSlot> params,
                 comm::ProcessGroups groups,
                 std::shared_ptr<const BatchSource> data,
                 std::shared_ptr<models::MoEState> moe,
                 TrainerCallbacks callbacks)
    : options_(std::move(options)),
      model_(std::move(model)),
      params_(std::move(params)),
      groups_(std::move(groups)),
      data_(std::move(data)),
      moe_(moe != nullptr ? std::move(moe)
                          : std::make_shared<models::MoEState>(nullptr, nullptr, false)),
      callbacks_(std::move(callbacks)) {
  SY_CHECK(data_ != nullptr) << "the trainer needs a batch source";
  // Parameters and buffers move in place (their tensors keep their identity): `params` still
  // names them.
  model_->to(options_.device);
  std::vector<NamedParameter> named;
  for (const ParamSlot& p : params_) {
    (p.expert ? expert_params_ : dense_params_).push_back(p.tensor);
    all_params_.push_back(p.tensor);
    named.push_back({p.name, p.tensor});
  }
  SY_CHECK_EQ(all_params_.size(), model_->parameters().size())
      << "every model parameter must be listed once in `params`";
  optimizer_ = std::make_unique<Optimizer>(named, options_.optimizer);
  grad_sync_ = std::make_unique<GradientSynchronizer>(dense_params_, expert_params_, groups_.world,
                                                      groups_.expert_data);
  if (!moe_->empty()) {
    probe_ = std::make_unique<RoutingProbe>(moe_->layers(), groups_.host_world,
                                            options_.routing_probe_prior);
  }
}

double Trainer::global_mean(double value) {
  return comm::all_reduce_sum(*groups_.host_world, std::vector<double>{value})[0] /
         groups_.host_world->size();
}

models::ForwardContext Trainer::forward_context(const Batch& batch,
                                                int64_t step,
                                                models::StageTimes* times) const {
  models::ForwardContext context;
  context.step = step;
  context.times = times;
  // The sampler gives every rank the same number of rows: rank r holds [r T, (r + 1) T).
  const int64_t tokens = batch.inputs.numel();
  context.batch_rows =
      models::BatchRows{groups_.world->rank() * tokens, groups_.world->size() * tokens};
  return context;
}

at::Tensor Trainer::forward(const Batch& batch, int64_t step, models::StageTimes* times) {
  Batch on_device;
  on_device.inputs = batch.inputs.to(options_.device);  // [B, S]
  models::AutocastScope precision(options_.device.type(), options_.compute_dtype);
  return model_->forward(on_device.inputs, forward_context(on_device, step, times));  // [B, S, V]
}

at::Tensor Trainer::token_loss(const at::Tensor& logits, const Batch& batch) const {
  // [B, S, V] -> [B S, V] against [B S]: mean over B*S tokens, float32 whatever the compute dtype.
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}).to(at::kFloat),
                                batch.targets.reshape({-1}).to(logits.device()));
}

double Trainer::train_step(int64_t step, double* grad_norm, bool* skipped, nlohmann::json* times) {
  auto phase = Clock::now();
  auto lap = [&](const char* name) {
    (*times)[name] = seconds_since(phase);
    phase = Clock::now();
  };
  optimizer_->set_learning_rate(learning_rate_at(options_.lr, step));
  at::manual_seed(step_seed(options_.seed, step));
  if (callbacks_.before_step) callbacks_.before_step(step);
  moe_->begin_step();
  last_step_ = step;
  const Batch batch = data_->batch(Split::kTrain, step);
  model_->train();
  models::StageTimes stages;
  const at::Tensor logits = forward(batch, step, &stages);  // [B, S, V]
  const at::Tensor loss = token_loss(logits, batch);
  const at::Tensor total = loss + moe_->aux_loss();
  lap("forward");
  for (const auto& [stage, seconds] : stages.seconds()) (*times)[stage] = seconds;
  optimizer_->zero_grad();
  total.backward();
  lap("backward");
  grad_sync_->synchronize();
  lap("grad_sync");
  *grad_norm = global_grad_norm(dense_params_, expert_params_, *groups_.host_expert);
  // The task loss and the loss that was differentiated (task + weighted aux losses), summed over
  // the world in one collective: a non-finite loss can have a finite gradient (an aux loss that
  // overflows to inf, or a constant one), so the grad norm alone does not catch it. [2] host.
  const at::Tensor losses = at::stack({loss.detach(), total.detach().to(at::kFloat)}).to(at::kCPU);
  const std::vector<double> sums = comm::all_reduce_sum(
      *groups_.host_world, std::vector<double>{losses[0].item<double>(), losses[1].item<double>()});
  const bool finite_loss = std::isfinite(sums[1]);
  *skipped = !finite_loss || !std::isfinite(*grad_norm);
  if (*skipped) {
    if (groups_.world->rank() == 0) {
      spdlog::warn("step {}: non-finite {} ({}); step skipped", step + 1,
                   finite_loss ? "gradient norm" : "loss", finite_loss ? *grad_norm : sums[1]);
    }
    optimizer_->zero_grad();
  } else {
    optimizer_->step(clip_factor(*grad_norm, options_.grad_clip));  // clipping fused in
    moe_->after_optimizer_step();
    if (callbacks_.after_optimizer_step) callbacks_.after_optimizer_step(step);
  }
  lap("optimizer");
  return sums[0] / groups_.host_world->size();
}

nlohmann::json Trainer::run_routing_probe() {
  {
    torch::NoGradGuard no_grad;
    model_->eval();
    const Batch batch = data_->batch(Split::kVal, 0);
    forward(batch, last_step_, nullptr);
    moe_->begin_step();
    model_->train();
  }
  return probe_->measure();
}

double Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  double sum = 0;
  for (int64_t i = 0; i < options_.eval_batches; ++i) {
    const Batch batch = data_->batch(Split::kVal, i);
    moe_->begin_step();
    const at::Tensor logits = forward(batch, last_step_, nullptr);  // [B, S, V]
    sum += token_loss(logits, batch).item<double>();
  }
  model_->train();
  return global_mean(sum / static_cast<double>(options_.eval_batches));
}

void Trainer::save_checkpoint(int64_t steps_completed) {
  if (options_.checkpoint_dir.empty()) return;
  const CheckpointStore store(options_.checkpoint_dir, options_.keep_last);
  const int rank = groups_.world->rank();
  comm::Communicator& host = *groups_.host_world;
  if (rank == 0) store.begin(steps_completed);
  comm::barrier(host);
  const auto state = optimizer_->state();
  if (rank == 0) {
    // Dense parameters and the persistent buffers (replicated on every rank).
    NamedTensors dense = checkpoint_tensors(params_, state, true, false);
    for (auto& item : buffer_tensors(moe_->persistent_buffers())) dense.push_back(std::move(item));
    store.write_file(steps_completed, "dense.safetensors", dense);
  }
  // The first expert-parallel group holds every expert once.
  if (!expert_params_.empty() && groups_.expert_data->rank() == 0) {
    store.write_file(steps_completed,
                     "experts-" + std::to_string(groups_.expert->rank()) + ".safetensors",
                     checkpoint_tensors(params_, state, false, true));
  }
  comm::barrier(host);
  if (rank == 0) {
    CheckpointManifest m;
    m.set_step(steps_completed);
    *m.mutable_config() = options_.config;
    m.set_world_size(groups_.world->size());
    m.set_expert_parallel_size(groups_.expert_parallel_size);
    m.set_num_experts(options_.config.model().moe().num_experts());
    m.set_seed(options_.seed);
    m.set_data_position(steps_completed);
    if (!options_.tokenizer_digest.empty()) {
      m.set_tokenizer_digest(options_.tokenizer_digest);
      m.set_tokenizer_model(options_.tokenizer_model);
    }
    for (int stage : moe_->router_stages()) m.add_router_stage(stage);
    store.commit_staged(steps_completed, std::move(m));
  }
  comm::barrier(host);
}

int64_t Trainer::restore_latest() {
  if (options_.checkpoint_dir.empty()) return -1;
  const CheckpointStore store(options_.checkpoint_dir, options_.keep_last);
  // Rank 0 chooses, so every rank loads the same checkpoint.
  int64_t chosen = -1;
  if (groups_.world->rank() == 0) {
    const auto steps = store.committed_steps();
    if (!steps.empty()) chosen = steps.back();
  }
  const int64_t step = comm::broadcast(*groups_.host_world, chosen, 0);
  if (step < 0) return -1;
  const std::string dir = store.committed_dir(step);
  const CheckpointManifest m = CheckpointStore::verify(dir);
  check_compatible(m.config().model(), options_.config.model(), dir);
  check_same_tokenizer(m, options_, dir);
  std::map<std::string, at::Tensor> stored;
  for (const CheckpointFile& f : m.files()) {
    for (auto& [name, t] : read_safetensors(dir + "/" + f.name()).tensors) stored[name] = t;
  }
  optimizer_->load_state(restore_from_checkpoint(stored, params_));
  const std::vector<std::string> missing =
      restore_buffers(stored, moe_->persistent_buffers(), /*required=*/m.format_version() >= 2);
  if (!missing.empty() && groups_.world->rank() == 0) {
    spdlog::warn(
        "checkpoint '{}' (format version {}) stores no buffers: {} buffer(s) such as '{}' "
        "restart from their initial values",
        dir, m.format_version(), missing.size(), missing.front());
  }
  if (m.router_stage_size() > 0) {
    moe_->restore_router_stages({m.router_stage().begin(), m.router_stage().end()});
  }
  return m.step();
}

TrainResult Trainer::run(const std::atomic<bool>* stop_requested) {
  TrainResult result;
  const int rank = groups_.world->rank();
  MetricsWriter metrics(rank == 0 && !options_.run_dir.empty() ? options_.run_dir + "/metrics.jsonl"
                                                               : "");
  int64_t start = 0;
  if (options_.resume) {
    result.resumed_from = restore_latest();
    if (result.resumed_from >= 0) {
      start = result.resumed_from;
      if (rank == 0) spdlog::info("resumed from checkpoint at step {}", start);
    }
  }
  // TensorBoard: the same records; a resumed run's file hides what earlier files hold from its
  // first step on (records written after the checkpoint it resumed from).
  std::optional<tensorboard::TensorBoardLog> board;
  if (rank == 0 && !options_.tensorboard_dir.empty()) {
    board.emplace(options_.tensorboard_dir);
    if (start > 0) board->mark_session_start(start + 1);
  }
  const auto log_record = [&](const nlohmann::json& record) {
    metrics.write(record);
    if (board) board->write_record(record);
  };
  const int64_t tokens_per_step = options_.global_batch_size * options_.seq_length;
  const auto run_start = Clock::now();
  auto window_start = Clock::now();
  int64_t window_steps = 0;
  for (int64_t step = start; step < options_.num_steps; ++step) {
    const bool stop_here = options_.stop_at_step >= 0 && step >= options_.stop_at_step;
    if (stop_here || (stop_requested != nullptr &&
                      comm::any_rank(*groups_.host_world, stop_requested->load()))) {
      if (rank == 0) spdlog::warn("stop requested: saving a checkpoint at step {}", step);
      save_checkpoint(step);
      result.stopped_early = true;
      result.steps_completed = step;
      return result;
    }
    const auto step_start = Clock::now();
    double grad_norm = 0;
    bool skipped = false;
    nlohmann::json times;
    const double loss = train_step(step, &grad_norm, &skipped, &times);
    const double step_seconds = seconds_since(step_start);
    result.train_losses.push_back(loss);
    result.skipped_steps += skipped ? 1 : 0;
    ++window_steps;
    const int64_t done = step + 1;
    nlohmann::json record = {{"step", done},
                             {"loss", loss},
                             {"lr", learning_rate_at(options_.lr, step)},
                             {"grad_norm", std::isfinite(grad_norm) ? grad_norm : -1.0},
                             {"skipped", skipped},
                             {"step_seconds", step_seconds},
                             {"tokens_per_second", tokens_per_step / step_seconds},
                             {"seconds", times}};
    for (const auto& [name, value] : moe_->aux_report()) {
      record["aux"][name] = value;  // "layer1/load_balancing": mean over ranks
    }
    if (!moe_->empty()) record["moe"] = moe_report_json(moe_->step_report());
    if (probe_ != nullptr && options_.routing_probe_every > 0 &&
        done % options_.routing_probe_every == 0) {
      record["routing_probe"] = run_routing_probe();
    }
    if (options_.eval_every > 0 && done % options_.eval_every == 0 && done < options_.num_steps) {
      const double val = evaluate();
      record["val_loss"] = val;
      if (rank == 0)
        spdlog::info("step {}: val loss {:.4f} (perplexity {:.2f})", done, val, std::exp(val));
    }
    log_record(record);
    if (rank == 0 && options_.print_progress &&
        (done % options_.log_every == 0 || done == options_.num_steps)) {
      const double window_seconds = seconds_since(window_start);
      Progress p;
      p.step = done;
      p.total_steps = options_.num_steps;
      p.loss = loss;
      p.learning_rate = learning_rate_at(options_.lr, step);
      p.tokens_per_second = window_steps * tokens_per_step / window_seconds;
      p.seconds_left = (options_.num_steps - done) * window_seconds / window_steps;
      std::cout << format_progress(p) << std::endl;
      window_start = Clock::now();
      window_steps = 0;
    }
    if (options_.checkpoint_every > 0 && done % options_.checkpoint_every == 0)
      save_checkpoint(done);
  }
  result.steps_completed = options_.num_steps;
  result.final_val_loss = evaluate();
  if (rank == 0) {
    log_record(
        {{"step", options_.num_steps}, {"val_loss", result.final_val_loss}, {"final", true}});
    spdlog::info("trained {} steps in {}", options_.num_steps - start,
                 format_duration(seconds_since(run_start)));
  }
  const bool just_saved = options_.checkpoint_every > 0 &&
                          options_.num_steps % options_.checkpoint_every == 0 &&
                          start < options_.num_steps;
  if (!options_.checkpoint_dir.empty() && !just_saved) save_checkpoint(options_.num_steps);
  return result;
}

}  // namespace switchyard::train
