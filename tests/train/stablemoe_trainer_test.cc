// StableMoE (Dai et al., arXiv 2204.08396) and DPSL (Mirvakhabova et al., arXiv 2510.01185)
// through the real training path (mpi): experiment builder, trainer, gradient synchronization,
// AdamW, checkpoints and the routing probe. ALGORITHMS.md §1.8 items 5-7 and the stage
// checkpoint/resume.
#include <mpi.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "core/config/config_overrides.h"
#include "models/moe/routers/stablemoe_router.h"
#include "tests/train/trainer_test_util.h"
#include "train/batch_sampler.h"
#include "train/checkpoint_store.h"
#include "train/experiment.h"

namespace switchyard::train {
namespace {

using testing::fresh_dir;
using testing::groups_over;
using testing::synthetic_corpus;
using testing::world_rank;
using testing::world_size;

namespace fs = std::filesystem;

config::ExperimentConfig stable_config(const std::vector<std::string>& overrides) {
  config::ExperimentConfig c;
  config::apply_overrides(&c, {"model.hidden_size=32",
                               "model.num_layers=2",
                               "model.num_heads=2",
                               "model.seq_length=16",
                               "model.ffn_hidden_size=64",
                               "model.moe_every_n_layers=2",
                               "model.moe.num_experts=4",
                               "model.moe.expert.ffn_hidden_size=32",
                               "model.moe.router.kind=STABLEMOE",
                               "model.moe.router.top_k=1",
                               "model.moe.router.stablemoe.stage2_step=3",
                               "model.moe.router.stablemoe.distilled_dim=8",
                               "model.moe.dispatcher.capacity_factor=0",
                               "parallel.expert_parallel_size=" + std::to_string(world_size()),
                               "train.global_batch_size=8",
                               "train.num_steps=8",
                               "train.eval_batches=2",
                               "train.eval_every=0",
                               "train.optimizer.warmup_steps=2",
                               "train.optimizer.learning_rate=0.01",
                               "logging.jsonl=false",
                               "checkpoint.every_steps=0"});
  config::apply_overrides(&c, overrides);
  return c;
}

models::StableMoERouter& stable_router(Experiment& e) {
  return dynamic_cast<models::StableMoERouter&>(e.moe_layers.at(0)->layer()->router());
}

struct Snapshot {
  at::Tensor embedding, distilled_centroids, centroids;
  int stage = 0;
};

// After every optimizer step: a snapshot of the router and the step's token -> expert pairs.
struct Recorder {
  std::vector<Snapshot> after_step;                        // index = step
  std::vector<std::pair<at::Tensor, at::Tensor>> routing;  // (token ids [T], experts [T])
};

TrainResult train(const config::ExperimentConfig& c,
                  const std::string& checkpoint_dir,
                  int64_t stop_at = -1,
                  Recorder* recorder = nullptr,
                  const std::string& run_dir = "") {
  const comm::ProcessGroups groups = groups_over(MPI_COMM_WORLD, world_size(), 1);
  Experiment e = build_experiment(c, groups);
  TrainerOptions o = trainer_options(c);
  o.checkpoint_dir = checkpoint_dir;
  o.print_progress = false;
  o.stop_at_step = stop_at;
  o.run_dir = run_dir;
  TrainerCallbacks callbacks;
  if (recorder != nullptr) {
    models::StableMoERouter* router = &stable_router(e);
    models::MoELayer layer = e.moe_layers.at(0)->layer();
    const Corpus corpus = synthetic_corpus();
    SamplerOptions so;
    so.global_batch_size = o.global_batch_size;
    so.seq_length = o.seq_length;
    so.seed = o.seed;
    so.rank = groups.world->rank();
    so.world_size = groups.world->size();
    const BatchSampler sampler(so);
    callbacks.after_optimizer_step = [=](int64_t step) mutable {
      recorder->after_step.push_back({router->distilled_embedding().detach().clone(),
                                      router->distilled_centroids().detach().clone(),
                                      router->centroids().detach().clone(), router->stage()});
      const at::Tensor ids = sampler.batch(Split::kTrain, step, corpus.train).inputs;  // [B, S]
      recorder->routing.emplace_back(ids.reshape({-1}),
                                     layer->last_routing().expert_ids.select(1, 0).clone());
    };
  }
  Trainer trainer(o, e.model, e.params, groups, synthetic_corpus(), e.moe, callbacks);
  return trainer.run();
}

TEST(StableMoETraining, StageTwoFreezesTheDistilledRouterButNotTheCentroids) {
  Recorder rec;
  const std::string run_dir = fresh_dir("stablemoe_probe");
  if (world_rank() == 0) fs::create_directories(run_dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const TrainResult r =
      train(stable_config({"logging.jsonl=true", "logging.routing_probe_every=1"}), "", -1, &rec,
            run_dir);
  ASSERT_EQ(rec.after_step.size(), 8u);
  EXPECT_EQ(r.skipped_steps, 0);
  for (int64_t s = 0; s < 8; ++s) EXPECT_EQ(rec.after_step[s].stage, s < 3 ? 1 : 2) << s;
  // Stage 1 trains the distilled router (distillation loss).
  EXPECT_FALSE(at::equal(rec.after_step[0].embedding, rec.after_step[1].embedding));
  EXPECT_FALSE(
      at::equal(rec.after_step[1].distilled_centroids, rec.after_step[2].distilled_centroids));
  // §1.8 item 6: from the switch (step index 3) on, bit-identical after every optimizer step,
  // although AdamW holds non-zero moments for them from stage 1.
  for (int64_t s = 3; s < 8; ++s) {
    EXPECT_TRUE(at::equal(rec.after_step[s].embedding, rec.after_step[2].embedding)) << s;
    EXPECT_TRUE(
        at::equal(rec.after_step[s].distilled_centroids, rec.after_step[2].distilled_centroids))
        << s;
    // §1.8 item 7: the backbone centroids keep training through the gate.
    EXPECT_FALSE(at::equal(rec.after_step[s].centroids, rec.after_step[s - 1].centroids)) << s;
  }
  // §1.8 item 5: in stage 2 one token id -> one expert across steps, batches and positions.
  std::map<int64_t, int64_t> expert_of;
  int64_t checked = 0;
  for (int64_t s = 3; s < 8; ++s) {
    const auto& [ids, experts] = rec.routing[s];
    for (int64_t t = 0; t < ids.numel(); ++t) {
      const int64_t id = ids[t].item<int64_t>();
      const int64_t ex = experts[t].item<int64_t>();
      auto [it, inserted] = expert_of.emplace(id, ex);
      if (!inserted) {
        EXPECT_EQ(it->second, ex) << "token " << id << " step " << s;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100);
  // Routing probe in metrics.jsonl: after the switch, the used assignment never changes.
  if (world_rank() == 0) {
    std::ifstream in(run_dir + "/metrics.jsonl");
    std::string line;
    int probes = 0;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (!j.contains("routing_probe")) continue;
      ++probes;
      const nlohmann::json& layer = j["routing_probe"]["layers"][0];
      EXPECT_GT(layer["probe_tokens"].get<int64_t>(), 0);
      EXPECT_GE(layer["dirichlet_distance"].get<double>(), 0.0);
      if (j["step"].get<int64_t>() == 1) EXPECT_TRUE(layer["fluctuation"].is_null());
      if (j["step"].get<int64_t>() >= 4) EXPECT_EQ(layer["fluctuation"].get<double>(), 0.0);
      if (j["step"].get<int64_t>() <= 3) {
        EXPECT_TRUE(j["aux"].contains("layer1/stablemoe_balance")) << line;
        EXPECT_TRUE(j["aux"].contains("layer1/stablemoe_distill")) << line;
      } else {
        EXPECT_FALSE(j.contains("aux") && j["aux"].contains("layer1/stablemoe_distill")) << line;
      }
    }
    EXPECT_EQ(probes, 8);
  }
}

TEST(StableMoETraining, ResumeAcrossTheStageSwitchIsExactAndRestoresTheStage) {
  const config::ExperimentConfig c = stable_config({"checkpoint.every_steps=2"});
  const TrainResult full = train(c, fresh_dir("stablemoe_full"));
  const std::string dir = fresh_dir("stablemoe_resumed");
  const TrainResult first = train(c, dir, /*stop_at=*/4);  // stage 2 from step index 3
  ASSERT_TRUE(first.stopped_early);
  {
    const CheckpointStore store(dir, 3);
    const CheckpointManifest m = CheckpointStore::verify(*store.latest());
    EXPECT_EQ(m.step(), 4);
    ASSERT_EQ(m.router_stage_size(), 1);  // one per MoE layer (block 1)
    EXPECT_EQ(m.router_stage(0), 2);
  }
  // The stage comes from the checkpoint, not from the step: a resumed run whose configured switch
  // step lies in the future still routes with the frozen distilled router.
  config::ExperimentConfig later = c;
  later.mutable_model()->mutable_moe()->mutable_router()->mutable_stablemoe()->set_stage2_step(
      1000);
  Recorder rec;
  const TrainResult second = train(later, dir, -1, &rec);
  testing::expect_bitwise_resume(full, first, second, 4);
  for (const Snapshot& s : rec.after_step) EXPECT_EQ(s.stage, 2);
}

TEST(DpslTraining, TrainsWithTheLossAndItsWarmUp) {
  const std::string run_dir = fresh_dir("stablemoe_dpsl");
  if (world_rank() == 0) fs::create_directories(run_dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const TrainResult r =
      train(stable_config({"model.moe.router.kind=TOP_K", "model.moe.router.top_k=2",
                           "model.moe.aux_loss.dpsl.coeff=0.1",
                           "model.moe.aux_loss.dpsl.symmetric_concentration=0.75",
                           "model.moe.aux_loss.dpsl.warmup_only_steps=5", "logging.jsonl=true",
                           "logging.routing_probe_every=2"}),
            "", -1, nullptr, run_dir);
  ASSERT_EQ(r.train_losses.size(), 8u);
  EXPECT_LT(r.train_losses.back(), r.train_losses.front());
  if (world_rank() == 0) {
    std::ifstream in(run_dir + "/metrics.jsonl");
    std::string line;
    int with_dpsl = 0;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (!j.contains("loss")) continue;
      const bool has = j.contains("aux") && j["aux"].contains("layer1/dpsl");
      EXPECT_EQ(has, j["step"].get<int64_t>() <= 5) << line;
      with_dpsl += has ? 1 : 0;
      if (j["step"].get<int64_t>() % 2 == 0) {
        const nlohmann::json& layer = j["routing_probe"]["layers"][0];
        EXPECT_GT(layer["dirichlet_distance"].get<double>(), 0.0);
        if (j["step"].get<int64_t>() > 2) {
          EXPECT_GE(layer["fluctuation"].get<double>(), 0.0);
          EXPECT_LE(layer["fluctuation"].get<double>(), 1.0);
        }
      }
    }
    EXPECT_EQ(with_dpsl, 5);
  }
}

}  // namespace
}  // namespace switchyard::train
