#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "core/check.h"
#include "core/errors.h"
#include "train/checkpoint_store.h"
#include "train/grad_sync.h"
#include "train/metrics.h"
#include "train/sha256.h"

namespace switchyard::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

uint64_t step_seed(uint64_t seed, int64_t step) {
  uint64_t x = seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(step + 1));
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 27);
}

SamplerOptions sampler_options(const TrainerOptions& o, const comm::ProcessGroups& g) {
  SamplerOptions s;
  s.global_batch_size = o.global_batch_size;
  s.seq_length = o.seq_length;
  s.seed = o.seed;
  s.rank = g.world->rank();
  s.world_size = g.world->size();
  return s;
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

}  // namespace

Trainer::Trainer(TrainerOptions options,
                 models::LanguageModel model,
                 std::vector<ParamSlot> params,
                 comm::ProcessGroups groups,
                 Corpus corpus,
                 ModelHooks hooks)
    : options_(std::move(options)),
      model_(std::move(model)),
      params_(std::move(params)),
      groups_(std::move(groups)),
      corpus_(std::move(corpus)),
      hooks_(std::move(hooks)),
      sampler_(sampler_options(options_, groups_)) {
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
}

double Trainer::global_mean(double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);  // [1]
  groups_.world->all_reduce(t)->wait();
  return t.item<double>() / groups_.world->size();
}

bool Trainer::any_rank(bool flag) {
  at::Tensor t = at::full({1}, flag ? 1 : 0, at::kInt);  // [1]
  comm::AllReduceOptions max;
  max.op = comm::ReduceOp::kMax;
  groups_.world->all_reduce(t, max)->wait();
  return t.item<int>() != 0;
}

double Trainer::train_step(int64_t step, double* grad_norm, bool* skipped, nlohmann::json* times) {
  model_->take_attention_seconds();  // drop what evaluation forwards accumulated
  auto phase = Clock::now();
  auto lap = [&](const char* name) {
    (*times)[name] = seconds_since(phase);
    phase = Clock::now();
  };
  optimizer_->set_learning_rate(learning_rate_at(options_.lr, step));
  at::manual_seed(step_seed(options_.seed, step));
  if (hooks_.set_step) hooks_.set_step(step);
  if (hooks_.aux_losses) hooks_.aux_losses->clear();
  const Batch batch = sampler_.batch(Split::kTrain, step, corpus_.train);
  model_->train();
  const at::Tensor logits = model_->forward(batch.inputs);  // [B, S, V]
  const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}),
                                                 batch.targets.reshape({-1}));  // mean over B*S
  at::Tensor total = loss;
  if (hooks_.aux_losses) total = total + hooks_.aux_losses->weighted_sum();
  lap("forward");
  optimizer_->zero_grad();
  total.backward();
  lap("backward");
  grad_sync_->synchronize();
  lap("grad_sync");
  *grad_norm = global_grad_norm(dense_params_, expert_params_, *groups_.expert);
  *skipped = !std::isfinite(*grad_norm);
  if (*skipped) {
    if (groups_.world->rank() == 0) {
      spdlog::warn("step {}: non-finite gradient norm ({}); step skipped", step + 1, *grad_norm);
    }
    optimizer_->zero_grad();
  } else {
    optimizer_->step(clip_factor(*grad_norm, options_.grad_clip));  // clipping fused in
    if (hooks_.after_optimizer_step) hooks_.after_optimizer_step();
  }
  lap("optimizer");
  return global_mean(loss.item<double>());
}

nlohmann::json Trainer::run_routing_probe() {
  {
    torch::NoGradGuard no_grad;
    model_->eval();
    const Batch batch = sampler_.batch(Split::kVal, 0, corpus_.val);
    model_->forward(batch.inputs);
    if (hooks_.aux_losses) hooks_.aux_losses->clear();
    model_->train();
  }
  return hooks_.routing_probe();
}

double Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  double sum = 0;
  for (int64_t i = 0; i < options_.eval_batches; ++i) {
    const Batch batch = sampler_.batch(Split::kVal, i, corpus_.val);
    if (hooks_.aux_losses) hooks_.aux_losses->clear();
    const at::Tensor logits = model_->forward(batch.inputs);
    sum +=
        at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), batch.targets.reshape({-1}))
            .item<double>();
  }
  model_->train();
  return global_mean(sum / static_cast<double>(options_.eval_batches));
}

void Trainer::save_checkpoint(int64_t steps_completed) {
  if (options_.checkpoint_dir.empty()) return;
  const CheckpointStore store(options_.checkpoint_dir, options_.keep_last);
  const int rank = groups_.world->rank();
  if (rank == 0) store.begin(steps_completed);
  groups_.world->barrier()->wait();
  const auto state = optimizer_->state();
  std::vector<std::string> written;
  if (rank == 0) {
    store.write_file(steps_completed, "dense.safetensors",
                     checkpoint_tensors(params_, state, true, false));
  }
  // The first expert-parallel group holds every expert once.
  if (!expert_params_.empty() && groups_.expert_data->rank() == 0) {
    store.write_file(steps_completed,
                     "experts-" + std::to_string(groups_.expert->rank()) + ".safetensors",
                     checkpoint_tensors(params_, state, false, true));
  }
  groups_.world->barrier()->wait();
  if (rank == 0) {
    CheckpointManifest m;
    m.set_step(steps_completed);
    *m.mutable_config() = options_.config;
    m.set_world_size(groups_.world->size());
    m.set_expert_parallel_size(groups_.expert_parallel_size);
    m.set_num_experts(options_.config.model().moe().num_experts());
    m.set_seed(options_.seed);
    m.set_data_position(steps_completed);
    if (hooks_.router_stages) {
      for (int stage : hooks_.router_stages()) m.add_router_stage(stage);
    }
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(store.staging_dir(steps_completed))) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string path = store.staging_dir(steps_completed) + "/" + name;
      CheckpointFile* f = m.add_files();
      f->set_name(name);
      f->set_bytes(static_cast<int64_t>(std::filesystem::file_size(path)));
      f->set_sha256(sha256_file(path));
    }
    store.commit(steps_completed, m);
  }
  groups_.world->barrier()->wait();
}

int64_t Trainer::restore_latest() {
  if (options_.checkpoint_dir.empty()) return -1;
  const CheckpointStore store(options_.checkpoint_dir, options_.keep_last);
  // Rank 0 chooses, so every rank loads the same checkpoint.
  at::Tensor chosen = at::full({1}, int64_t{-1}, at::kLong);  // [1]
  if (groups_.world->rank() == 0) {
    const auto steps = store.committed_steps();
    if (!steps.empty()) chosen.fill_(steps.back());
  }
  groups_.world->broadcast(chosen, 0)->wait();
  const int64_t step = chosen.item<int64_t>();
  if (step < 0) return -1;
  const std::string dir = store.committed_dir(step);
  const CheckpointManifest m = CheckpointStore::verify(dir);
  check_compatible(m.config().model(), options_.config.model(), dir);
  std::map<std::string, at::Tensor> stored;
  for (const CheckpointFile& f : m.files()) {
    for (auto& [name, t] : read_safetensors(dir + "/" + f.name()).tensors) stored[name] = t;
  }
  optimizer_->load_state(restore_from_checkpoint(stored, params_));
  if (hooks_.restore_router_stages && m.router_stage_size() > 0) {
    hooks_.restore_router_stages({m.router_stage().begin(), m.router_stage().end()});
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
  const int64_t tokens_per_step = options_.global_batch_size * options_.seq_length;
  const auto run_start = Clock::now();
  auto window_start = Clock::now();
  int64_t window_steps = 0;
  for (int64_t step = start; step < options_.num_steps; ++step) {
    const bool stop_here = options_.stop_at_step >= 0 && step >= options_.stop_at_step;
    if (stop_here || (stop_requested != nullptr && any_rank(stop_requested->load()))) {
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
    times["attention_forward"] = model_->take_attention_seconds();
    if (hooks_.stage_times) times.update(hooks_.stage_times());
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
    if (hooks_.aux_losses) {
      for (const auto& [name, value] : hooks_.aux_losses->reduce_mean_per_layer(*groups_.world)) {
        record["aux"][name] = value;  // "layer1/load_balancing": mean over ranks
      }
    }
    if (hooks_.routing_metrics) record["moe"] = hooks_.routing_metrics();
    if (hooks_.routing_probe && options_.routing_probe_every > 0 &&
        done % options_.routing_probe_every == 0) {
      record["routing_probe"] = run_routing_probe();
    }
    if (options_.eval_every > 0 && done % options_.eval_every == 0 && done < options_.num_steps) {
      const double val = evaluate();
      record["val_loss"] = val;
      if (rank == 0)
        spdlog::info("step {}: val loss {:.4f} (perplexity {:.2f})", done, val, std::exp(val));
    }
    metrics.write(record);
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
    metrics.write(
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
