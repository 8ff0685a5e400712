// Gold tests on a CUDA device against the CPU (ctest label `gpu`). Without a visible CUDA device
// every test reports itself skipped (GTEST_SKIP with the reason) and the suite stays green.
//   * attention: the generic path on CUDA vs the fused CPU kernel, values and gradients;
//   * AdamW: the generic update on CUDA vs the fused CPU loop, 20 steps;
//   * training: 8 steps of every router on CUDA vs the CPU (one rank), and BF16 on CUDA;
//   * checkpoints: trained on CUDA, resumed on the CPU, the same parameters.
#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "core/config/config_overrides.h"
#include "models/transformer/attention.h"
#include "models/transformer/causal_attention.h"
#include "tests/train/trainer_test_util.h"
#include "train/experiment.h"
#include "train/optimizer.h"

namespace switchyard {
namespace {

using train::testing::groups_over;
using train::testing::synthetic_corpus;

#define SKIP_WITHOUT_CUDA()                                                                \
  if (!torch::cuda::is_available()) {                                                      \
    GTEST_SKIP() << "no CUDA device visible (this CUDA build runs its CPU tests instead)"; \
  }

const at::Device kCuda(at::kCUDA, 0);

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.detach().to(at::kCPU, at::kDouble) - b.detach().to(at::kCPU, at::kDouble))
      .abs()
      .max()
      .item<double>();
}

TEST(CudaGold, GenericAttentionOnCudaEqualsFusedCpu) {
  SKIP_WITHOUT_CUDA();
  for (bool rotary : {false, true}) {
    models::AttentionOptions o;
    o.hidden_size = 48;
    o.num_heads = 4;
    o.max_seq_length = 32;
    o.rotary = rotary;
    at::manual_seed(3);
    models::CausalSelfAttention cpu(o);  // fused CPU kernel
    o.fused = false;
    models::CausalSelfAttention gpu(o);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < cpu->parameters().size(); ++i) {
      gpu->parameters()[i].copy_(cpu->parameters()[i]);
    }
    gpu->to(kCuda);
    at::Tensor x = at::randn({3, 32, 48});
    at::Tensor x_gpu = x.to(kCuda);
    {
      at::AutoGradMode grad(true);
      x.requires_grad_(true);
      x_gpu.requires_grad_(true);
      at::Tensor g = at::randn({3, 32, 48});
      (cpu(x) * g).sum().backward();
      (gpu(x_gpu) * g.to(kCuda)).sum().backward();
      EXPECT_LT(max_abs_diff(cpu(x), gpu(x_gpu)), 1e-4) << "rotary " << rotary;
      EXPECT_LT(max_abs_diff(x.grad(), x_gpu.grad()), 1e-4);
      for (size_t i = 0; i < cpu->parameters().size(); ++i) {
        EXPECT_LT(max_abs_diff(cpu->parameters()[i].grad(), gpu->parameters()[i].grad()), 1e-3)
            << "parameter " << i;
      }
    }
  }
}

TEST(CudaGold, GenericAdamWOnCudaEqualsFusedCpu) {
  SKIP_WITHOUT_CUDA();
  at::manual_seed(5);
  const at::Tensor w0 = at::randn({64, 33});
  at::Tensor w_cpu = w0.clone().requires_grad_(true);
  at::Tensor w_gpu = w0.to(kCuda).requires_grad_(true);
  train::OptimizerOptions o;
  o.learning_rate = 3e-3;
  o.weight_decay = 0.1;
  train::Optimizer cpu({{"w", w_cpu}}, o);  // fused loop
  train::Optimizer gpu({{"w", w_gpu}}, o);  // generic update (device tensors)
  for (int step = 0; step < 20; ++step) {
    const at::Tensor g = at::randn({64, 33});
    w_cpu.mutable_grad() = g.clone();
    w_gpu.mutable_grad() = g.to(kCuda);
    cpu.step(step % 3 == 0 ? 0.5 : 1.0);
    gpu.step(step % 3 == 0 ? 0.5 : 1.0);
  }
  EXPECT_LT(max_abs_diff(w_cpu, w_gpu), 1e-5);
}

config::ExperimentConfig small_config(const std::vector<std::string>& overrides) {
  config::ExperimentConfig c;
  config::apply_overrides(
      &c,
      {"model.hidden_size=32", "model.num_layers=2", "model.num_heads=2", "model.seq_length=16",
       "model.ffn_hidden_size=64", "model.moe_every_n_layers=1", "model.moe.num_experts=4",
       "train.global_batch_size=8", "train.num_steps=8", "train.eval_batches=2",
       "train.eval_every=0", "train.optimizer.warmup_steps=2",
       "train.optimizer.learning_rate=0.003", "logging.jsonl=false", "checkpoint.every_steps=0"});
  config::apply_overrides(&c, overrides);
  return c;
}

train::TrainResult train_on(const config::ExperimentConfig& c,
                            at::Device device,
                            const std::string& checkpoint_dir = "",
                            train::Experiment* built = nullptr) {
  const comm::ProcessGroups g = groups_over(MPI_COMM_SELF, 1, 1);
  train::Experiment e = train::build_experiment(c, g);
  train::TrainerOptions o = train::trainer_options(c);
  o.print_progress = false;
  o.device = device;
  o.checkpoint_dir = checkpoint_dir;
  train::Trainer trainer(o, e.model, e.params, g, synthetic_corpus(), e.moe);
  train::TrainResult r = trainer.run();
  if (built != nullptr) *built = e;
  return r;
}

TEST(CudaGold, EveryRouterTrainsOnCudaLikeOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  for (const std::string router :
       {"TOP_K", "GSHARD", "EXPERT_CHOICE", "STABLEMOE", "SMILE", "LOCMOE"}) {
    std::vector<std::string> o = {"model.moe.router.kind=" + router};
    if (router == "STABLEMOE" || router == "SMILE") o.push_back("model.moe.router.top_k=1");
    const config::ExperimentConfig c = small_config(o);
    const train::TrainResult cpu = train_on(c, at::kCPU);
    const train::TrainResult gpu = train_on(c, kCuda);
    ASSERT_EQ(cpu.train_losses.size(), gpu.train_losses.size());
    for (size_t i = 0; i < cpu.train_losses.size(); ++i) {
      EXPECT_NEAR(gpu.train_losses[i], cpu.train_losses[i], 1e-3 * cpu.train_losses[i])
          << router << " step " << i + 1;
    }
  }
}

TEST(CudaGold, Bf16TrainsOnCuda) {
  SKIP_WITHOUT_CUDA();
  const train::TrainResult fp32 = train_on(small_config({"train.num_steps=20"}), kCuda);
  const train::TrainResult bf16 =
      train_on(small_config({"train.num_steps=20", "train.precision=BF16"}), kCuda);
  EXPECT_LT(bf16.train_losses.back(), 0.9 * bf16.train_losses.front());
  EXPECT_NEAR(bf16.final_val_loss, fp32.final_val_loss, 0.02 * fp32.final_val_loss);
}

TEST(CudaGold, CheckpointFromCudaResumesOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  const std::string dir = ::testing::TempDir() + "/cuda_to_cpu";
  std::filesystem::remove_all(dir);
  const config::ExperimentConfig c = small_config({"train.num_steps=4"});
  train::Experiment on_gpu;
  train_on(c, kCuda, dir, &on_gpu);
  // Resumes at step 4 = num_steps: nothing to train, the parameters are the checkpoint's.
  train::Experiment on_cpu;
  const train::TrainResult resumed = train_on(c, at::kCPU, dir, &on_cpu);
  EXPECT_EQ(resumed.resumed_from, 4);
  ASSERT_EQ(on_gpu.params.size(), on_cpu.params.size());
  for (size_t i = 0; i < on_gpu.params.size(); ++i) {
    EXPECT_TRUE(on_cpu.params[i].tensor.device().is_cpu());
    EXPECT_TRUE(on_gpu.params[i].tensor.to(at::kCPU).equal(on_cpu.params[i].tensor))
        << on_gpu.params[i].name;
  }
}

}  // namespace
}  // namespace switchyard
