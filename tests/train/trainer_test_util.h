// Fixtures shared by the trainer MPI tests: world rank/size, a small synthetic corpus with
// structure to learn, process groups over a communicator, and a fresh per-test directory.
#pragma once

#include <mpi.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "core/config/config_overrides.h"
#include "core/config/experiment.pb.h"
#include "tests/testing/mpi_world.h"
#include "train/corpus.h"
#include "train/trainer.h"

namespace switchyard::train::testing {

using switchyard::testing::world_rank;
using switchyard::testing::world_size;

// 4000 byte tokens, 80% a period-17 pattern, 20% noise; 3600 train, 400 val.
inline Corpus synthetic_corpus() {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor noise = at::randint(256, {4000}, gen, at::kLong);
  const at::Tensor pattern = at::arange(4000, at::kLong).remainder(17) + 97;
  const at::Tensor mask = at::rand({4000}, gen) < 0.8;
  const at::Tensor tokens = at::where(mask, pattern, noise);  // [4000]
  return Corpus{tokens.slice(0, 0, 3600).clone(), tokens.slice(0, 3600).clone()};
}

// Process groups over a duplicate of `comm` with an emulated topology.
inline comm::ProcessGroups groups_over(MPI_Comm comm,
                                       int expert_parallel_size,
                                       int ranks_per_node) {
  auto world = comm::MpiCommunicator::duplicate(comm);
  const comm::Topology topology =
      comm::make_emulated_topology(world->rank(), world->size(), ranks_per_node);
  return comm::build_process_groups(world, topology, expert_parallel_size);
}

// A small character-level dense model (2 blocks of 32, sequences of 16, global batch 8, 8 steps,
// no files written), then `overrides` (later ones win).
inline config::ExperimentConfig small_config(const std::vector<std::string>& overrides) {
  config::ExperimentConfig c;
  config::apply_overrides(
      &c, {"model.hidden_size=32", "model.num_layers=2", "model.num_heads=2", "model.seq_length=16",
           "model.ffn_hidden_size=64", "model.moe_every_n_layers=0", "train.global_batch_size=8",
           "train.num_steps=8", "train.eval_batches=2", "train.eval_every=0",
           "train.optimizer.warmup_steps=2", "train.optimizer.learning_rate=0.003",
           "logging.jsonl=false", "checkpoint.every_steps=0"});
  config::apply_overrides(&c, overrides);
  return c;
}

// An empty directory named after the test and the world size (rank 0 clears it). Collective.
inline std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name + "_np" + std::to_string(world_size());
  if (world_rank() == 0) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

// A run stopped after `k` of N steps (`first`) and resumed (`second`) made exactly the losses of
// the uninterrupted run (`full`): bit for bit, every step and the final validation loss.
inline void expect_bitwise_resume(const TrainResult& full,
                                  const TrainResult& first,
                                  const TrainResult& second,
                                  size_t k) {
  ASSERT_EQ(first.train_losses.size(), k);
  ASSERT_EQ(second.train_losses.size(), full.train_losses.size() - k);
  EXPECT_EQ(second.resumed_from, static_cast<int64_t>(k));
  for (size_t i = 0; i < k; ++i) {
    EXPECT_EQ(first.train_losses[i], full.train_losses[i]) << "step " << i + 1;
  }
  for (size_t i = 0; i < second.train_losses.size(); ++i) {
    EXPECT_EQ(second.train_losses[i], full.train_losses[k + i]) << "step " << k + i + 1;
  }
  EXPECT_EQ(second.final_val_loss, full.final_val_loss);
}

// `b` followed `a`'s loss curve within `relative` (every step and the final validation loss).
inline void expect_same_curve(const TrainResult& a, const TrainResult& b, double relative) {
  ASSERT_EQ(a.train_losses.size(), b.train_losses.size());
  for (size_t i = 0; i < a.train_losses.size(); ++i) {
    EXPECT_NEAR(b.train_losses[i], a.train_losses[i], relative * a.train_losses[i])
        << "step " << i + 1;
  }
  EXPECT_NEAR(b.final_val_loss, a.final_val_loss, relative * a.final_val_loss);
}

}  // namespace switchyard::train::testing
