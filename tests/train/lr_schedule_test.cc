#include "train/lr_schedule.h"

#include <gtest/gtest.h>

namespace switchyard::train {
namespace {

TEST(LrSchedule, WarmupThenCosineToMin) {
  LrScheduleOptions o;
  o.peak = 1.0;
  o.min = 0.1;
  o.warmup_steps = 10;
  o.total_steps = 110;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 4), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 10), 1.0);
  EXPECT_NEAR(learning_rate_at(o, 60), 0.55, 1e-12);  // half way: (peak + min) / 2
  EXPECT_NEAR(learning_rate_at(o, 110), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 500), 0.1, 1e-12);
  for (int64_t s = 10; s < 110; ++s) EXPECT_GE(learning_rate_at(o, s), learning_rate_at(o, s + 1));
}

TEST(LrSchedule, ConstantAfterWarmup) {
  LrScheduleOptions o;
  o.peak = 2.0;
  o.warmup_steps = 0;
  o.decay = LrDecay::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 1000), 2.0);
}

}  // namespace
}  // namespace switchyard::train
