// Training from an indexed token dataset (data.format: INDEXED) under MPI: the batch source
// against the sampler it is built on, data-parallel rows disjoint and independent of the world
// size, bitwise-exact resume, the same loss curve at 1 rank and at the job's world size, and a
// checkpoint of another tokenizer refused.
#include "train/indexed_batch_source.h"

#include <mpi.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/config_overrides.h"
#include "core/errors.h"
#include "tests/train/trainer_test_util.h"
#include "train/data/byte_tokenizer.h"
#include "train/data/prepare.h"
#include "train/experiment.h"

namespace switchyard::train {
namespace {

using testing::fresh_dir;
using testing::groups_over;
using testing::small_config;
using testing::world_rank;
using testing::world_size;

// 60 documents of different lengths (some shorter than a sample), byte-level, each ending with
// the end-of-document id 256 (vocabulary 257), letters from `first` on ('a': a-q, 'A': A-Q), so
// that a sample tells which dataset it came from. Rank 0 prepares it at the first call (every
// rank's first call is in the same test); collective then.
std::string prepare_dataset_once(char first);
std::string prepared_dataset() {
  static const std::string prefix = prepare_dataset_once('a');
  return prefix;
}
std::string prepared_upper_dataset() {
  static const std::string prefix = prepare_dataset_once('A');
  return prefix;
}

std::string prepare_dataset_once(char first) {
  const std::string dir = fresh_dir(std::string("indexed_training_data_") + first);
  const std::string prefix = dir + "/ds";
  if (world_rank() == 0) {
    std::filesystem::create_directories(dir);
    std::string text;
    for (int d = 0; d < 60; ++d) {
      const int lines = 1 + d % 5;
      for (int l = 0; l < lines; ++l) {
        for (int i = 0; i < 7 + (d * 13 + l * 7) % 50; ++i) {
          text += static_cast<char>(first + (d + i) % 17);
        }
        text += '\n';
      }
      text += '\n';  // a blank line ends the document
    }
    std::ofstream(dir + "/corpus.txt") << text;
    data::PrepareOptions o;
    o.inputs = {dir + "/corpus.txt"};
    o.output_prefix = prefix;
    o.documents = data::DocumentBoundary::kBlankLine;
    o.eod_id = 256;
    data::prepare_indexed_dataset(data::ByteTokenizer(), o);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return prefix;
}

config::ExperimentConfig indexed_config(const std::string& prefix,
                                        std::vector<std::string> overrides = {}) {
  std::vector<std::string> all = {"data.format=INDEXED", "data.path=" + prefix,
                                  "data.val_fraction=0.2", "model.vocab_size=257"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return small_config(all);
}

TrainResult train(const config::ExperimentConfig& c,
                  const comm::ProcessGroups& groups,
                  const std::string& checkpoint_dir,
                  int64_t stop_at = -1,
                  const std::string& tokenizer_digest = "byte") {
  Experiment e = build_experiment(c, groups);
  TrainerOptions o = trainer_options(c);
  o.checkpoint_dir = checkpoint_dir;
  o.print_progress = false;
  o.stop_at_step = stop_at;
  o.tokenizer_digest = tokenizer_digest;
  const data::ByteTokenizer bytes;
  Trainer trainer(o, e.model, e.params, groups,
                  load_training_data(c, bytes, groups.world->rank(), groups.world->size()), e.moe);
  return trainer.run();
}

// Every row is the sampler's global sample (step x B + row); W ranks' rows, concatenated in rank
// order, are the 1-rank batch; no global sample is read twice in 12 steps.
TEST(IndexedTraining, RowsAreTheSamplersDisjointAndIndependentOfTheWorldSize) {
  const std::string prefix = prepared_dataset();
  const config::ExperimentConfig c = indexed_config(prefix);
  const data::ByteTokenizer bytes;
  const auto one = load_training_data(c, bytes, 0, 1);
  const auto& single = dynamic_cast<const IndexedBatchSource&>(*one);
  const int64_t s = c.model().seq_length(), b = c.train().global_batch_size();
  for (Split split : {Split::kTrain, Split::kVal}) {
    std::set<uint64_t> seen;
    for (int64_t step = 0; step < 12; ++step) {
      const Batch whole = single.batch(split, step);  // [B, S]
      ASSERT_EQ(whole.inputs.sizes(), (std::vector<int64_t>{b, s}));
      std::vector<int64_t> expect(s + 1);
      for (int64_t r = 0; r < b; ++r) {
        const uint64_t j = single.global_sample(step, r);
        EXPECT_TRUE(seen.insert(j).second) << "sample " << j << " read twice";
        single.sampler(split).sample(j, expect.data());
        const at::Tensor row = at::tensor(expect, at::kLong);  // [S + 1]
        EXPECT_TRUE(at::equal(whole.inputs[r], row.slice(0, 0, s))) << "step " << step;
        EXPECT_TRUE(at::equal(whole.targets[r], row.slice(0, 1, s + 1))) << "step " << step;
      }
      for (int w : {2, 4}) {
        std::vector<at::Tensor> inputs, targets;
        for (int rank = 0; rank < w; ++rank) {
          const Batch part = load_training_data(c, bytes, rank, w)->batch(split, step);
          inputs.push_back(part.inputs);
          targets.push_back(part.targets);
        }
        EXPECT_TRUE(at::equal(at::cat(inputs), whole.inputs)) << w << " ranks, step " << step;
        EXPECT_TRUE(at::equal(at::cat(targets), whole.targets)) << w << " ranks, step " << step;
      }
    }
  }
  // Training and validation documents differ, and the validation order does not follow the seed.
  const auto reseeded = load_training_data(indexed_config(prefix, {"train.seed=99"}), bytes, 0, 1);
  EXPECT_TRUE(at::equal(reseeded->batch(Split::kVal, 3).inputs, one->batch(Split::kVal, 3).inputs));
  EXPECT_FALSE(
      at::equal(reseeded->batch(Split::kTrain, 3).inputs, one->batch(Split::kTrain, 3).inputs));
}

TEST(IndexedTraining, ResumeIsBitwiseExact) {
  const config::ExperimentConfig c =
      indexed_config(prepared_dataset(), {"checkpoint.every_steps=2"});
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  const TrainResult full = train(c, g, fresh_dir("indexed_full"));
  ASSERT_EQ(full.train_losses.size(), 8u);
  EXPECT_LT(full.train_losses.back(), full.train_losses.front());
  const std::string dir = fresh_dir("indexed_resumed");
  const TrainResult first = train(c, g, dir, /*stop_at=*/4);
  EXPECT_TRUE(first.stopped_early);
  testing::expect_bitwise_resume(full, first, train(c, g, dir), 4);
}

TEST(IndexedTraining, OneRankAndAllRanksFollowTheSameLossCurve) {
  const config::ExperimentConfig c = indexed_config(prepared_dataset());
  const TrainResult distributed = train(c, groups_over(MPI_COMM_WORLD, 1, 1), "");
  const TrainResult single = train(c, groups_over(MPI_COMM_SELF, 1, 1), "");
  testing::expect_same_curve(single, distributed, 2e-5);
}

// data.blend: lower-case and upper-case datasets 3:1. Each row is the picked dataset's sample
// (its letters say which), the shares per 1024-sample round are exact, and training from the
// blend resumes bitwise.
TEST(IndexedTraining, BlendDrawsEachDatasetInProportionAndResumesExactly) {
  config::ExperimentConfig c = indexed_config(prepared_dataset(), {"checkpoint.every_steps=2"});
  for (const auto& [prefix, weight] :
       {std::pair{prepared_dataset(), 3.0}, std::pair{prepared_upper_dataset(), 1.0}}) {
    config::DataConfig::BlendSource* s = c.mutable_data()->add_blend();
    s->set_path(prefix);
    s->set_weight(weight);
  }
  c.mutable_data()->set_path("/nonexistent");  // not read with a blend
  const data::ByteTokenizer bytes;
  const auto source = load_training_data(c, bytes, 0, 1);
  const auto& blend = dynamic_cast<const IndexedBatchSource&>(*source);
  ASSERT_EQ(blend.num_datasets(), 2u);
  const int64_t s = c.model().seq_length(), b = c.train().global_batch_size();
  std::vector<int64_t> counts(2, 0), expect(s + 1);
  for (int64_t step = 0; step < 1024 / b; ++step) {  // one round
    const Batch batch = blend.batch(Split::kTrain, step);
    for (int64_t r = 0; r < b; ++r) {
      const data::BlendPick p = blend.pick(blend.global_sample(step, r));
      ++counts[p.dataset];
      blend.sampler(Split::kTrain, p.dataset).sample(p.index, expect.data());
      const at::Tensor row = at::tensor(expect, at::kLong);  // [S + 1]
      ASSERT_TRUE(at::equal(batch.inputs[r], row.slice(0, 0, s))) << "step " << step;
      // Letters of the picked dataset only (besides newlines and 256, the end of document).
      const at::Tensor in = batch.inputs[r];  // [S]
      const at::Tensor letters = in.masked_select((in != 256).logical_and(in != '\n'));
      const int64_t low = p.dataset == 0 ? 'a' : 'A';
      EXPECT_TRUE(at::all(letters >= low).item<bool>() && at::all(letters < low + 17).item<bool>())
          << "step " << step << " row " << r;
    }
  }
  EXPECT_EQ(counts, (std::vector<int64_t>{768, 256}));

  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  const TrainResult full = train(c, g, fresh_dir("indexed_blend_full"));
  const std::string dir = fresh_dir("indexed_blend_resumed");
  const TrainResult first = train(c, g, dir, /*stop_at=*/4);
  testing::expect_bitwise_resume(full, first, train(c, g, dir), 4);
}

TEST(IndexedTraining, CheckpointOfAnotherTokenizerIsRefused) {
  const config::ExperimentConfig c =
      indexed_config(prepared_dataset(), {"checkpoint.every_steps=2"});
  const comm::ProcessGroups g = groups_over(MPI_COMM_WORLD, 1, 1);
  const std::string dir = fresh_dir("indexed_tokenizer");
  train(c, g, dir, /*stop_at=*/2);
  try {
    train(c, g, dir, -1, std::string(64, 'a'));
    ADD_FAILURE() << "resumed with another tokenizer";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("data.tokenizer_model"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("was trained with tokenizer byte, this run has "
                                               "sha256 aaaaaaaaaaaa"));
  }
  // The same tokenizer resumes.
  EXPECT_EQ(train(c, g, dir).resumed_from, 2);
}

}  // namespace
}  // namespace switchyard::train
