#include "train/batch_sampler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace switchyard::train {
namespace {

SamplerOptions options(int rank, int world) {
  SamplerOptions o;
  o.global_batch_size = 8;
  o.seq_length = 5;
  o.seed = 7;
  o.rank = rank;
  o.world_size = world;
  return o;
}

TEST(BatchSampler, TargetsAreInputsShiftedByOne) {
  const at::Tensor tokens = at::arange(1000, at::kLong);
  const Batch b = BatchSampler(options(0, 1)).batch(Split::kTrain, 3, tokens);
  ASSERT_EQ(b.inputs.sizes(), (std::vector<int64_t>{8, 5}));
  EXPECT_TRUE(at::equal(b.targets, b.inputs + 1));  // tokens[i] == i
}

TEST(BatchSampler, GlobalBatchDoesNotDependOnWorldSize) {
  const at::Tensor tokens = at::randint(256, {5000}, at::kLong);
  for (int64_t step : {0, 1, 17, 123456}) {
    const Batch one = BatchSampler(options(0, 1)).batch(Split::kTrain, step, tokens);
    std::vector<at::Tensor> parts;
    for (int r = 0; r < 4; ++r)
      parts.push_back(BatchSampler(options(r, 4)).batch(Split::kTrain, step, tokens).inputs);
    EXPECT_TRUE(at::equal(at::cat(parts, 0), one.inputs)) << "step " << step;
  }
}

TEST(BatchSampler, DeterministicPerStepAndDifferentAcrossStepsSplitsSeeds) {
  const BatchSampler s(options(0, 1));
  EXPECT_EQ(s.global_offsets(Split::kTrain, 5, 1000), s.global_offsets(Split::kTrain, 5, 1000));
  EXPECT_NE(s.global_offsets(Split::kTrain, 5, 1000), s.global_offsets(Split::kTrain, 6, 1000));
  EXPECT_NE(s.global_offsets(Split::kTrain, 5, 1000), s.global_offsets(Split::kVal, 5, 1000));
  SamplerOptions other = options(0, 1);
  other.seed = 8;
  EXPECT_NE(s.global_offsets(Split::kTrain, 5, 1000),
            BatchSampler(other).global_offsets(Split::kTrain, 5, 1000));
}

TEST(BatchSampler, OffsetsStayInsideTheCorpusAndCoverIt) {
  const BatchSampler s(options(0, 1));
  const int64_t n = 12;  // windows start in [0, 7)
  std::vector<int> seen(n, 0);
  for (int64_t step = 0; step < 200; ++step) {
    for (int64_t off : s.global_offsets(Split::kTrain, step, n)) {
      ASSERT_GE(off, 0);
      ASSERT_LT(off + 5, n);
      seen[off]++;
    }
  }
  for (int64_t off = 0; off + 5 < n; ++off) EXPECT_GT(seen[off], 100) << off;  // ~228 expected
}

}  // namespace
}  // namespace switchyard::train
