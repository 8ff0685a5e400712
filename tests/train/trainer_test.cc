// The training loop end to end under MPI: exact resume, and the same loss curve at 1 rank and at
// the job's world size with the same global batch and seed.
#include "train/trainer.h"

#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "core/config/config_overrides.h"
#include "tests/train/trainer_test_util.h"
#include "train/checkpoint_store.h"
#include "train/experiment.h"

namespace switchyard::train {
namespace {

using testing::fresh_dir;
using testing::groups_over;
using testing::small_config;
using testing::synthetic_corpus;
using testing::world_rank;
using testing::world_size;

namespace fs = std::filesystem;

TrainResult train(const config::ExperimentConfig& c,
                  const comm::ProcessGroups& groups,
                  const std::string& checkpoint_dir,
                  int64_t stop_at = -1,
                  int64_t routing_groups = 1) {
  Experiment e = build_experiment(c, groups);
  for (auto& layer : e.moe_layers) layer->set_routing_groups(routing_groups);
  TrainerOptions o = trainer_options(c);
  o.checkpoint_dir = checkpoint_dir;
  o.print_progress = false;
  o.stop_at_step = stop_at;
  Trainer trainer(o, e.model, e.params, groups, synthetic_corpus(), e.moe);
  return trainer.run();
}

// model.kernels: GENERIC (at::scaled_dot_product_attention, AdamW in tensor ops: the code a GPU
// runs) trains the same model as the fused CPU kernels, to float32 rounding, over 20 steps of a
// dense and an MoE model (rotary positions in the MoE one).
TEST(Trainer, GenericKernelsTrainLikeTheFusedCpuKernels) {
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  for (const std::vector<std::string>& model :
       {std::vector<std::string>{},
        std::vector<std::string>{"model.moe_every_n_layers=2", "model.moe.num_experts=4",
                                 "model.positions=ROTARY"}}) {
    std::vector<std::string> fused = model;
    fused.push_back("model.kernels=FUSED_CPU");
    fused.push_back("train.num_steps=20");
    std::vector<std::string> generic = model;
    generic.push_back("model.kernels=GENERIC");
    generic.push_back("train.num_steps=20");
    const TrainResult a = train(small_config(fused), g, "");
    const TrainResult b = train(small_config(generic), g, "");
    ASSERT_EQ(a.train_losses.size(), 20u);
    ASSERT_EQ(b.train_losses.size(), 20u);
    for (size_t i = 0; i < a.train_losses.size(); ++i) {
      EXPECT_NEAR(a.train_losses[i], b.train_losses[i], 1e-4 * std::abs(a.train_losses[i]))
          << "step " << i + 1;
    }
    EXPECT_NEAR(a.final_val_loss, b.final_val_loss, 1e-4 * std::abs(a.final_val_loss));
    EXPECT_LT(b.train_losses.back(), b.train_losses.front());
  }
}

TEST(Trainer, ResumeIsBitwiseExact) {
  const config::ExperimentConfig c = small_config({"checkpoint.every_steps=2"});
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  const TrainResult full = train(c, g, fresh_dir("trainer_full"));
  ASSERT_EQ(full.train_losses.size(), 8u);
  EXPECT_LT(full.train_losses.back(), full.train_losses.front());

  const std::string dir = fresh_dir("trainer_resumed");
  const TrainResult first = train(c, g, dir, /*stop_at=*/4);
  EXPECT_TRUE(first.stopped_early);
  EXPECT_EQ(first.steps_completed, 4);
  testing::expect_bitwise_resume(full, first, train(c, g, dir), 4);
}

TEST(Trainer, OneRankAndAllRanksFollowTheSameLossCurve) {
  const config::ExperimentConfig c = small_config({});
  const TrainResult distributed = train(c, groups_over(MPI_COMM_WORLD, 1, 1), "");
  const TrainResult single = train(c, groups_over(MPI_COMM_SELF, 1, 1), "");
  testing::expect_same_curve(single, distributed, 2e-5);
}

TEST(Trainer, CheckpointsAreAtomicVerifiedAndPruned) {
  const config::ExperimentConfig c =
      small_config({"checkpoint.every_steps=2", "checkpoint.keep_last=2"});
  const std::string dir = fresh_dir("trainer_pruned");
  train(c, groups_over(MPI_COMM_WORLD, 1, 1), dir);
  const CheckpointStore store(dir, 2);
  EXPECT_EQ(store.committed_steps(), (std::vector<int64_t>{6, 8}));
  const CheckpointManifest m = CheckpointStore::verify(*store.latest());
  EXPECT_EQ(m.step(), 8);
  EXPECT_EQ(m.world_size(), world_size());
  EXPECT_EQ(m.config().model().hidden_size(), 32);
}

// A non-finite gradient on one rank skips the step on every rank and leaves every parameter and
// the optimizer untouched; training then continues. Rank 0 poisons one weight with NaN for step 3
// only (restored before step 4).
TEST(Trainer, NonFiniteGradientSkipsTheStepOnEveryRank) {
  const config::ExperimentConfig c = small_config({});
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  Experiment e = build_experiment(c, g);
  std::vector<at::Tensor> params;
  for (const auto& p : e.model->parameters()) params.push_back(p);
  std::vector<at::Tensor> before;  // every parameter at the start of step 3
  at::Tensor poisoned_original;
  int compared = 0;
  TrainerCallbacks callbacks;
  callbacks.before_step = [&](int64_t step) {
    at::NoGradGuard no_grad;
    if (step == 2) {  // 0-based: the third step
      before.clear();
      for (const auto& p : params) before.push_back(p.detach().clone());
      if (world_rank() == 0) {
        poisoned_original = params[0].detach().clone();
        params[0].view({-1})[0].fill_(std::numeric_limits<float>::quiet_NaN());
      }
    } else if (step == 3) {
      if (world_rank() == 0) params[0].copy_(poisoned_original);
      for (size_t i = 0; i < params.size(); ++i) {
        EXPECT_TRUE(at::equal(params[i], before[i])) << "parameter " << i << " moved";
        ++compared;
      }
    }
  };
  TrainerOptions o = trainer_options(c);
  o.checkpoint_dir = "";
  o.print_progress = false;
  Trainer trainer(o, e.model, e.params, g, synthetic_corpus(), e.moe, callbacks);
  const TrainResult r = trainer.run();
  EXPECT_EQ(compared, static_cast<int>(params.size()));
  EXPECT_EQ(r.skipped_steps, 1);
  ASSERT_EQ(r.train_losses.size(), 8u);
  for (size_t i = 0; i < r.train_losses.size(); ++i) {
    EXPECT_EQ(std::isfinite(r.train_losses[i]), i != 2) << "step " << i + 1;
  }
  EXPECT_LT(r.train_losses.back(), r.train_losses.front());
}

const std::vector<std::string> kMoE = {"model.moe_every_n_layers=1", "model.moe.num_experts=8",
                                       "model.moe.expert.ffn_hidden_size=32",
                                       "model.moe.aux_loss.z_loss_coeff=0.001"};

std::vector<std::string> moe_overrides(int expert_parallel_size,
                                       std::vector<std::string> more = {}) {
  std::vector<std::string> o = kMoE;
  o.push_back("parallel.expert_parallel_size=" + std::to_string(expert_parallel_size));
  o.insert(o.end(), more.begin(), more.end());
  return o;
}

// Resume is bitwise exact for every router kind at expert-parallel size = world size, including
// the persistent buffers: the aux-loss-free expert bias (a fast update rate, so that a bias lost
// on resume changes the selection) and StableMoE's stage switch after the resume point.
TEST(Trainer, MoEResumeIsBitwiseExactForEveryRouterKind) {
  const int w = world_size();
  const std::vector<std::pair<std::string, std::vector<std::string>>> kinds = {
      {"top_k+aux_free_bias",
       {"model.moe.router.aux_free_bias.enabled=true",
        "model.moe.router.aux_free_bias.update_rate=0.05",
        "model.moe.aux_loss.load_balancing=NONE"}},
      {"top_k+sigmoid+aux_free_bias",
       {"model.moe.router.score_function=SIGMOID", "model.moe.router.aux_free_bias.enabled=true",
        "model.moe.router.aux_free_bias.update_rate=0.05"}},
      {"gshard", {"model.moe.router.kind=GSHARD", "model.moe.dispatcher.capacity_factor=1"}},
      {"expert_choice", {"model.moe.router.kind=EXPERT_CHOICE"}},
      {"stablemoe",
       {"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1",
        "model.moe.router.stablemoe.stage2_step=6", "model.moe.router.stablemoe.distilled_dim=8"}},
      {"smile", {"model.moe.router.kind=SMILE", "model.moe.router.top_k=1"}},
      {"locmoe", {"model.moe.router.kind=LOCMOE", "model.moe.dispatcher.capacity_factor=1.5"}},
  };
  for (const auto& [kind, overrides] : kinds) {
    SCOPED_TRACE(kind);
    std::vector<std::string> more = overrides;
    more.push_back("checkpoint.every_steps=4");
    const config::ExperimentConfig c = small_config(moe_overrides(w, more));
    const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, w, 1);
    const TrainResult full = train(c, g, fresh_dir("trainer_kind_full"));
    const std::string dir = fresh_dir("trainer_kind_resumed");
    const TrainResult first = train(c, g, dir, /*stop_at=*/4);
    ASSERT_EQ(full.train_losses.size(), 8u);
    testing::expect_bitwise_resume(full, first, train(c, g, dir), 4);
  }
}

TEST(Trainer, MoEExpertParallelFollowsTheSingleProcessCurve) {
  const int w = world_size();
  const TrainResult distributed =
      train(small_config(moe_overrides(w)), groups_over(MPI_COMM_WORLD, w, 1), "");
  const TrainResult single =
      // The distributed balance loss is per rank (routing group = the rank's tokens): the single
      // process computes the same with one routing group per rank of the distributed run.
      train(small_config(moe_overrides(1)), groups_over(MPI_COMM_SELF, 1, 1), "", -1, w);
  ASSERT_EQ(distributed.train_losses.size(), single.train_losses.size());
  for (size_t i = 0; i < single.train_losses.size(); ++i) {
    EXPECT_NEAR(distributed.train_losses[i], single.train_losses[i], 1e-4 * single.train_losses[i])
        << "step " << i + 1;
  }
  EXPECT_LT(single.train_losses.back(), single.train_losses.front());
}

// comm.deduplicate_tokens on 2 emulated nodes x 2 ranks with the hierarchical all-to-all
// (docs/dedup.md): the experiment wires the node-deduplicated exchange, which trains the curve of
// the plain hierarchical exchange and sends fewer inter-node rows; off, the layers send one row
// per kept cross-node assignment.
TEST(Trainer, MoENodeDedupFollowsThePlainHierarchicalCurve) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks (2 nodes x 2)";
  auto run = [](bool dedup, int64_t* rows, int64_t* rows_without) {
    const config::ExperimentConfig c = small_config(
        moe_overrides(4, {"comm.all_to_all=HIERARCHICAL",
                          std::string("comm.deduplicate_tokens=") + (dedup ? "true" : "false")}));
    const comm::ProcessGroups groups = groups_over(MPI_COMM_WORLD, 4, 2);
    Experiment e = build_experiment(c, groups);
    TrainerOptions o = trainer_options(c);
    o.checkpoint_dir = "";
    o.print_progress = false;
    Trainer trainer(o, e.model, e.params, groups, synthetic_corpus(), e.moe);
    const TrainResult r = trainer.run();
    *rows = 0;
    *rows_without = 0;
    for (const models::MoELayer& layer : e.moe->layers()) {  // the last forward, this rank
      *rows += layer->last_stats().inter_node_rows;
      *rows_without += layer->last_stats().cross_node_rows;
    }
    return r;
  };
  int64_t dedup_rows = 0, dedup_without = 0, plain_rows = 0, plain_without = 0;
  const TrainResult dedup = run(true, &dedup_rows, &dedup_without);
  const TrainResult plain = run(false, &plain_rows, &plain_without);
  ASSERT_EQ(dedup.train_losses.size(), plain.train_losses.size());
  for (size_t i = 0; i < plain.train_losses.size(); ++i) {
    EXPECT_NEAR(dedup.train_losses[i], plain.train_losses[i], 1e-4 * plain.train_losses[i])
        << "step " << i + 1;
  }
  EXPECT_EQ(plain_rows, plain_without);
  EXPECT_LT(dedup_rows, dedup_without) << "no inter-node row was deduplicated";
  EXPECT_GT(dedup_rows, 0);
}

TEST(Trainer, MoEResumesAtAnotherExpertParallelSize) {
  const int w = world_size();
  const config::ExperimentConfig c = small_config(moe_overrides(w, {"checkpoint.every_steps=4"}));
  const TrainResult full =
      train(c, groups_over(MPI_COMM_WORLD, w, 1), fresh_dir("trainer_moe_full"));
  const std::string dir = fresh_dir("trainer_moe_saved");
  train(c, groups_over(MPI_COMM_WORLD, w, 1), dir, /*stop_at=*/4);
  // Every rank resumes the EP=w checkpoint alone at EP=1, in its own copy of the directory.
  const std::string own = dir + "_rank" + std::to_string(world_rank());
  fs::remove_all(own);
  fs::copy(dir, own, fs::copy_options::recursive);
  const TrainResult resumed = train(small_config(moe_overrides(1, {"checkpoint.every_steps=4"})),
                                    groups_over(MPI_COMM_SELF, 1, 1), own, -1, w);
  EXPECT_EQ(resumed.resumed_from, 4);
  ASSERT_EQ(resumed.train_losses.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(resumed.train_losses[i], full.train_losses[4 + i], 1e-4 * full.train_losses[4 + i])
        << "step " << 5 + i;
  }
}

}  // namespace
}  // namespace switchyard::train
