// A training step whose loss or gradient norm is not finite (issue 18, item 5), under MPI with
// expert parallelism over the world: for every router kind, all-NaN router input in one step;
// for top-k also all-+inf router input and an auxiliary loss of +inf whose gradient is finite
// (an overflowing z-loss looks like that: the loss is inf, its gradient is not). The step is
// skipped on every rank with exactly one warning (rank 0), and the weights, the optimizer's
// moments and step counts and the persistent buffers after it are bitwise those before it
// (compared through the checkpoints written before and after the step).
#include <mpi.h>

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "models/moe/router.h"
#include "models/moe/router_registry.h"
#include "tests/train/trainer_test_util.h"
#include "train/checkpoint_store.h"
#include "train/experiment.h"
#include "train/safetensors.h"
#include "train/trainer.h"

namespace switchyard::train {
namespace {

using testing::fresh_dir;
using testing::groups_over;
using testing::small_config;
using testing::synthetic_corpus;
using testing::world_rank;
using testing::world_size;

constexpr int64_t kPoisonedStep = 2;  // 0-based: the third step

enum class Poison { kNaNInput, kInfInput, kInfLoss };

// Wraps a built-in router; in the training forward of kPoisonedStep it routes all-NaN or
// all-+inf tokens instead of the real ones, or adds a router loss of +inf (coefficient 1, no
// gradient). Every other call is the inner router's.
class PoisonedRouter : public models::Router {
 public:
  PoisonedRouter(std::shared_ptr<models::Router> inner, Poison poison)
      : inner_(register_module("inner", std::move(inner))), poison_(poison) {}

  models::RoutingResult route(const at::Tensor& tokens,
                              const models::RoutingContext& context) override {
    if (!context.training || context.step != kPoisonedStep) return inner_->route(tokens, context);
    constexpr double kInf = std::numeric_limits<double>::infinity();
    if (poison_ == Poison::kInfLoss) {
      models::RoutingResult r = inner_->route(tokens, context);
      r.losses.push_back({"poison", at::full({}, kInf, tokens.options().dtype(at::kFloat)), 1.0});
      return r;
    }
    const double value = poison_ == Poison::kNaNInput ? std::nan("") : kInf;
    return inner_->route(at::full_like(tokens, value), context);
  }
  int64_t num_experts() const override { return inner_->num_experts(); }
  int64_t slots_per_token() const override { return inner_->slots_per_token(); }
  void update_expert_bias(const at::Tensor& counts) override { inner_->update_expert_bias(counts); }
  bool uses_batch_noise(bool training) const override { return inner_->uses_batch_noise(training); }
  int stage() const override { return inner_->stage(); }
  void restore_stage(int stage) override { inner_->restore_stage(stage); }
  at::Tensor coupling_weight() override { return inner_->coupling_weight(); }

 private:
  std::shared_ptr<models::Router> inner_;
  Poison poison_;
};

struct Outcome {
  TrainResult result;
  int warnings = 0;  // "step skipped" lines this rank logged
};

// Trains with the router `inner_kind` (a registry name) wrapped in PoisonedRouter until `stop_at`
// steps are done (then checkpoints into `dir`), counting the warnings.
Outcome train_until(const config::ExperimentConfig& c,
                    const comm::ProcessGroups& g,
                    const std::string& inner_kind,
                    Poison poison,
                    const std::string& dir,
                    int64_t stop_at) {
  ExperimentExtensions extensions;
  extensions.routers.add("poisoned", [poison, inner_kind](const models::RouterOptions& o) {
    models::RouterOptions inner = o;
    inner.kind = inner_kind;
    return std::make_shared<PoisonedRouter>(models::RouterRegistry::with_builtins().create(inner),
                                            poison);
  });
  extensions.router_kind = "poisoned";
  Experiment e = build_experiment(c, g, extensions);
  TrainerOptions o = trainer_options(c);
  o.checkpoint_dir = dir;
  o.print_progress = false;
  o.stop_at_step = stop_at;
  std::ostringstream log;
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  Outcome out;
  {
    Trainer trainer(o, e.model, e.params, g, synthetic_corpus(), e.moe);
    out.result = trainer.run();
  }
  spdlog::set_default_logger(previous);
  const std::string text = log.str();
  for (size_t at = text.find("step skipped"); at != std::string::npos;
       at = text.find("step skipped", at + 1)) {
    ++out.warnings;
  }
  return out;
}

// Every tensor of every file of the checkpoint of `step` in `a` equals (bitwise, same dtype)
// the one in the checkpoint of `step_b` in `b`.
void expect_same_checkpoint(const std::string& a,
                            int64_t step_a,
                            const std::string& b,
                            int64_t step_b) {
  const std::string dir_a = CheckpointStore(a, 3).committed_dir(step_a);
  const std::string dir_b = CheckpointStore(b, 3).committed_dir(step_b);
  const CheckpointManifest m = CheckpointStore::verify(dir_a);
  ASSERT_GT(m.files_size(), 0);
  int compared = 0;
  for (const CheckpointFile& f : m.files()) {
    const SafetensorsFile x = read_safetensors(dir_a + "/" + f.name());
    const SafetensorsFile y = read_safetensors(dir_b + "/" + f.name());
    ASSERT_EQ(x.tensors.size(), y.tensors.size()) << f.name();
    for (const auto& [name, t] : x.tensors) {
      auto it = y.tensors.find(name);
      ASSERT_NE(it, y.tensors.end()) << name;
      EXPECT_EQ(t.scalar_type(), it->second.scalar_type()) << name;
      EXPECT_TRUE(at::equal(t, it->second)) << f.name() << ": " << name << " changed";
      EXPECT_TRUE(!t.is_floating_point() || at::isfinite(it->second).all().item<bool>()) << name;
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

std::vector<std::string> moe_config(const std::vector<std::string>& router) {
  std::vector<std::string> o = {"model.moe_every_n_layers=1",
                                "model.moe.num_experts=8",
                                "model.moe.expert.ffn_hidden_size=32",
                                "model.moe.aux_loss.z_loss_coeff=0.001",
                                "train.num_steps=4",
                                "parallel.expert_parallel_size=" + std::to_string(world_size())};
  o.insert(o.end(), router.begin(), router.end());
  return o;
}

TEST(NonFiniteStep, IsSkippedWithOneWarningAndChangesNothing) {
  struct Kind {
    std::string name;
    std::string registry_name;
    std::vector<std::string> overrides;
  };
  const std::vector<Kind> kinds = {
      {"top_k", "top_k", {}},
      {"deepseek",
       "top_k",
       {"model.moe.router.score_function=SIGMOID", "model.moe.router.aux_free_bias.enabled=true",
        "model.moe.router.aux_free_bias.update_rate=0.05",
        "model.moe.router.group_limited.num_groups=2"}},
      {"switch", "top_k", {"model.moe.router.top_k=1", "model.moe.router.normalize_top_k=false"}},
      {"gshard",
       "gshard",
       {"model.moe.router.kind=GSHARD", "model.moe.dispatcher.capacity_factor=1"}},
      {"expert_choice", "expert_choice", {"model.moe.router.kind=EXPERT_CHOICE"}},
      {"stablemoe",
       "stablemoe",
       {"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1",
        "model.moe.router.stablemoe.distilled_dim=8"}},
      {"smile", "smile", {"model.moe.router.kind=SMILE", "model.moe.router.top_k=1"}},
      {"locmoe",
       "locmoe",
       {"model.moe.router.kind=LOCMOE", "model.moe.dispatcher.capacity_factor=1.5"}},
  };
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, world_size(), 1);
  for (const Kind& kind : kinds) {
    const config::ExperimentConfig c = small_config(moe_config(kind.overrides));
    // The state before the poisoned step: a checkpoint after kPoisonedStep steps.
    const std::string before = fresh_dir("nonfinite_before");
    const Outcome clean =
        train_until(c, g, kind.registry_name, Poison::kNaNInput, before, kPoisonedStep);
    EXPECT_EQ(clean.result.skipped_steps, 0);
    std::vector<Poison> poisons = {Poison::kNaNInput};
    if (kind.name == "top_k") poisons = {Poison::kNaNInput, Poison::kInfInput, Poison::kInfLoss};
    for (Poison poison : poisons) {
      SCOPED_TRACE(kind.name + " poison " + std::to_string(static_cast<int>(poison)));
      const std::string after = fresh_dir("nonfinite_after");
      const Outcome o = train_until(c, g, kind.registry_name, poison, after, kPoisonedStep + 1);
      EXPECT_EQ(o.result.skipped_steps, 1);
      EXPECT_EQ(o.warnings, world_rank() == 0 ? 1 : 0);
      ASSERT_EQ(o.result.train_losses.size(), static_cast<size_t>(kPoisonedStep + 1));
      for (int64_t i = 0; i < kPoisonedStep; ++i) {
        EXPECT_EQ(o.result.train_losses[i], clean.result.train_losses[i]) << "step " << i + 1;
      }
      // The task loss of the poisoned step: non-finite when the routing was (the aux loss of
      // +inf leaves it finite).
      EXPECT_EQ(std::isfinite(o.result.train_losses[kPoisonedStep]), poison == Poison::kInfLoss);
      if (world_rank() == 0)
        expect_same_checkpoint(before, kPoisonedStep, after, kPoisonedStep + 1);
      MPI_Barrier(MPI_COMM_WORLD);
    }
  }
}

}  // namespace
}  // namespace switchyard::train
