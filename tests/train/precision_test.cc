// Mixed precision, the generic kernels and host staging, end to end under MPI (2 ranks):
//   * train.precision BF16 trains like FP32 to a stated tolerance, and really computes in bf16;
//   * under BF16 every router's logits, gates and every auxiliary loss stay float32 while the
//     all-to-all carries bfloat16 tokens;
//   * model.kernels GENERIC trains like FUSED_CPU with every router;
//   * the host-staging communicator (the MPI path of CUDA runs) trains bit for bit like MPI.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/host_staging_communicator.h"
#include "comm/mpi/mpi_communicator.h"
#include "core/config/config_overrides.h"
#include "tests/testing/counting_communicator.h"
#include "tests/train/trainer_test_util.h"
#include "train/experiment.h"

namespace switchyard::train {
namespace {

using testing::groups_over;

// The trainer tests' small model, trained for 20 steps.
config::ExperimentConfig small_config(const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"train.num_steps=20"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return testing::small_config(all);
}
using testing::synthetic_corpus;

// An MoE model over both ranks (expert-parallel size 2, one rank per emulated node).
std::vector<std::string> moe_model(const std::string& router) {
  return {"model.moe_every_n_layers=1", "model.moe.num_experts=4",
          "parallel.expert_parallel_size=2", "model.moe.router.kind=" + router};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TrainResult train(const config::ExperimentConfig& c,
                  const comm::ProcessGroups& groups,
                  TrainerCallbacks callbacks = {},
                  Experiment* built = nullptr) {
  Experiment e = build_experiment(c, groups);
  TrainerOptions o = trainer_options(c);
  o.print_progress = false;
  o.checkpoint_dir.clear();
  Trainer trainer(o, e.model, e.params, groups, synthetic_corpus(), e.moe, std::move(callbacks));
  TrainResult r = trainer.run();
  if (built != nullptr) *built = e;
  return r;
}

comm::ProcessGroups two_node_groups(int expert_parallel_size) {
  return groups_over(MPI_COMM_WORLD, expert_parallel_size, /*ranks_per_node=*/1);
}

// BF16 reaches the FP32 losses within 2% at every step (measured: < 0.5%), the final validation
// loss within 2%, the loss falls, and at least one step differs from FP32 (it really ran bf16).
TEST(Precision, Bf16TrainsCloseToFp32) {
  for (const std::vector<std::string>& model : {std::vector<std::string>{}, moe_model("TOP_K")}) {
    const int ep = model.empty() ? 1 : 2;
    const TrainResult fp32 =
        train(small_config(with(model, {"model.kernels=GENERIC"})), two_node_groups(ep));
    const TrainResult bf16 =
        train(small_config(with(model, {"model.kernels=GENERIC", "train.precision=BF16"})),
              two_node_groups(ep));
    ASSERT_EQ(fp32.train_losses.size(), 20u);
    ASSERT_EQ(bf16.train_losses.size(), 20u);
    bool differs = false;
    double worst = 0;
    for (size_t i = 0; i < fp32.train_losses.size(); ++i) {
      EXPECT_NEAR(bf16.train_losses[i], fp32.train_losses[i], 0.02 * fp32.train_losses[i])
          << "step " << i + 1 << (model.empty() ? " (dense)" : " (MoE)");
      differs = differs || bf16.train_losses[i] != fp32.train_losses[i];
      worst = std::max(worst, std::abs(bf16.train_losses[i] / fp32.train_losses[i] - 1));
    }
    if (testing::world_rank() == 0) {
      std::cout << (model.empty() ? "dense" : "MoE") << ": largest |bf16/fp32 - 1| of a step loss "
                << worst << ", final val " << bf16.final_val_loss << " vs " << fp32.final_val_loss
                << std::endl;
    }
    EXPECT_TRUE(differs) << "BF16 gave the FP32 losses bit for bit: no bf16 math ran";
    EXPECT_NEAR(bf16.final_val_loss, fp32.final_val_loss, 0.02 * fp32.final_val_loss);
    EXPECT_LT(bf16.train_losses.back(), 0.9 * bf16.train_losses.front());
  }
}

// Under BF16, for every router (with the z-loss, DPSL and ERC where they apply): the router
// logits and gates and every auxiliary loss are float32, and every all-to-all carrying
// activations carries bfloat16.
TEST(Precision, Bf16KeepsRouterMathFloat32AndExchangesBf16Tokens) {
  struct Case {
    std::string router;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {"TOP_K",
       {"model.moe.aux_loss.z_loss_coeff=0.001", "model.moe.aux_loss.dpsl.coeff=0.01",
        "model.moe.aux_loss.erc.coeff=0.01"}},
      {"GSHARD", {"model.moe.router.top_k=2"}},
      {"EXPERT_CHOICE", {"model.moe.aux_loss.z_loss_coeff=0.001"}},
      {"STABLEMOE", {"model.moe.router.top_k=1"}},
      {"SMILE", {"model.moe.router.top_k=1"}},
      {"LOCMOE", {}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.router);
    auto counts = std::make_shared<switchyard::testing::CollectiveCounts>();
    auto world = std::make_shared<switchyard::testing::CountingCommunicator>(
        comm::MpiCommunicator::duplicate(MPI_COMM_WORLD), counts);
    const comm::ProcessGroups groups = comm::build_process_groups(
        world, comm::make_emulated_topology(world->rank(), world->size(), 1), 2);
    config::ExperimentConfig c = small_config(
        with(with(moe_model(k.router), k.extra), {"train.precision=BF16", "train.num_steps=2"}));
    Experiment e = build_experiment(c, groups);
    int checked_steps = 0;
    TrainerCallbacks callbacks;
    callbacks.after_optimizer_step = [&](int64_t) {
      ASSERT_FALSE(e.moe->aux_losses()->entries().empty());
      for (const models::AuxLossEntry& a : e.moe->aux_losses()->entries()) {
        EXPECT_EQ(a.value.scalar_type(), at::kFloat) << a.name;
      }
      for (const models::MoELayer& layer : e.moe->layers()) {
        EXPECT_EQ(layer->last_routing().logits.scalar_type(), at::kFloat);
        EXPECT_EQ(layer->last_routing().probs.scalar_type(), at::kFloat);
        EXPECT_EQ(layer->last_plan().weights.scalar_type(), at::kFloat);
      }
      ++checked_steps;
    };
    TrainerOptions o = trainer_options(c);
    o.print_progress = false;
    o.checkpoint_dir.clear();
    Trainer trainer(o, e.model, e.params, groups, synthetic_corpus(), e.moe, callbacks);
    const TrainResult r = trainer.run();
    EXPECT_EQ(checked_steps, 2);
    EXPECT_TRUE(std::isfinite(r.final_val_loss));
    EXPECT_GT(counts->all_to_all_dtypes["BFloat16"], 0);
    EXPECT_EQ(counts->all_to_all_dtypes["Float"], 0) << "activations exchanged in float32";
  }
}

// model.kernels GENERIC (the code a GPU runs) trains like FUSED_CPU with every router: 10 steps,
// losses equal to float32 rounding.
TEST(Kernels, GenericTrainsLikeFusedCpuWithEveryRouter) {
  for (const std::string router :
       {"TOP_K", "GSHARD", "EXPERT_CHOICE", "STABLEMOE", "SMILE", "LOCMOE"}) {
    const std::vector<std::string> model =
        with(moe_model(router), {"train.num_steps=10", "model.positions=ROTARY"});
    const std::vector<std::string> top1 = {"model.moe.router.top_k=1"};
    const std::vector<std::string> m =
        router == "STABLEMOE" || router == "SMILE" ? with(model, top1) : model;
    const TrainResult fused =
        train(small_config(with(m, {"model.kernels=FUSED_CPU"})), two_node_groups(2));
    const TrainResult generic =
        train(small_config(with(m, {"model.kernels=GENERIC"})), two_node_groups(2));
    ASSERT_EQ(fused.train_losses.size(), 10u);
    ASSERT_EQ(generic.train_losses.size(), 10u);
    for (size_t i = 0; i < fused.train_losses.size(); ++i) {
      EXPECT_NEAR(generic.train_losses[i], fused.train_losses[i],
                  1e-4 * std::abs(fused.train_losses[i]))
          << router << " step " << i + 1;
    }
  }
}

// The host-staging communicator (device tensors through host buffers: the MPI path of a CUDA
// run), forced to stage CPU tensors too, trains an expert-parallel model bit for bit like MPI.
TEST(HostStaging, TrainsBitwiseLikeDirectMpi) {
  const config::ExperimentConfig c = small_config(with(moe_model("TOP_K"), {"train.num_steps=6"}));
  const TrainResult direct = train(c, two_node_groups(2));
  auto staged = std::make_shared<comm::HostStagingCommunicator>(
      comm::MpiCommunicator::duplicate(MPI_COMM_WORLD), /*always_stage=*/true);
  const comm::ProcessGroups groups = comm::build_process_groups(
      staged, comm::make_emulated_topology(staged->rank(), staged->size(), 1), 2);
  const TrainResult through_host = train(c, groups);
  ASSERT_EQ(direct.train_losses.size(), through_host.train_losses.size());
  for (size_t i = 0; i < direct.train_losses.size(); ++i) {
    EXPECT_EQ(through_host.train_losses[i], direct.train_losses[i]) << "step " << i + 1;
  }
  EXPECT_EQ(through_host.final_val_loss, direct.final_val_loss);
}

}  // namespace
}  // namespace switchyard::train
