// The blend schedule (train/data/blend.h): whole counts per round from the weights, every
// dataset's samples taken in order with none skipped or repeated, every prefix of a round within
// one sample of the weights, and refusals.
#include "train/data/blend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/train/data/data_test_util.h"

namespace switchyard::train::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Blend, WeightsBecomeWholeCountsPerRound) {
  EXPECT_THAT(BlendSchedule({3, 1}, "f").counts(), ElementsAre(768, 256));
  EXPECT_THAT(BlendSchedule({1, 1, 1}, "f").counts(), ElementsAre(342, 341, 341));
  EXPECT_THAT(BlendSchedule({0.5, 0}, "f").counts(), ElementsAre(1024, 0));
  EXPECT_THAT(BlendSchedule({1, 1e-9}, "f").counts(), ElementsAre(1023, 1));  // at least one
  EXPECT_THAT(BlendSchedule({2}, "f").counts(), ElementsAre(1024));
  EXPECT_THAT(BlendSchedule({1, 2, 7}, "f", 10).counts(), ElementsAre(1, 2, 7));
}

TEST(Blend, EveryDatasetsSamplesComeInOrderAndPrefixesFollowTheWeights) {
  for (const std::vector<double>& w :
       {std::vector<double>{3, 1}, {1, 1, 1}, {5, 0, 2, 1}, {1, 1e-9}, {1}}) {
    const BlendSchedule b(w, "f", 64);
    std::vector<uint64_t> next(w.size(), 0);
    std::vector<uint32_t> in_round(w.size(), 0);
    for (uint64_t j = 0; j < 3 * 64; ++j) {
      const BlendPick p = b.pick(j);
      ASSERT_LT(p.dataset, w.size());
      EXPECT_EQ(p.index, next[p.dataset]++) << "sample " << j;  // consecutive, none skipped
      if (j % 64 == 0) std::fill(in_round.begin(), in_round.end(), 0);
      ++in_round[p.dataset];
      const double position = static_cast<double>(j % 64 + 1) / 64;
      for (size_t k = 0; k < w.size(); ++k) {
        EXPECT_LT(std::abs(in_round[k] - b.counts()[k] * position), 1.0 + 1e-9)
            << "dataset " << k << " after sample " << j;
      }
    }
    for (size_t k = 0; k < w.size(); ++k) EXPECT_EQ(next[k], 3u * b.counts()[k]);
  }
}

TEST(Blend, BadWeightsAreRefusedInOneLine) {
  using testing::refusal;
  EXPECT_EQ(refusal([] { BlendSchedule({}, "data.blend"); }), "data.blend: names no dataset");
  EXPECT_THAT(refusal([] {
                BlendSchedule({1, -1}, "data.blend");
              }),
              HasSubstr("data.blend: weight 1 is -1"));
  EXPECT_THAT(
      refusal([] { BlendSchedule({std::numeric_limits<double>::quiet_NaN()}, "data.blend"); }),
      HasSubstr("must be finite"));
  EXPECT_EQ(refusal([] { BlendSchedule({0, 0}, "data.blend"); }), "data.blend: every weight is 0");
  EXPECT_THAT(refusal([] {
                BlendSchedule({1, 1, 1}, "data.blend", 2);
              }),
              HasSubstr("3 datasets, more than the 2 samples of a blend round"));
}

}  // namespace
}  // namespace switchyard::train::data
