// File: train/lr_schedule.h
#pragma once

#include <cstdint>

namespace switchyard::train {

enum class LrDecay { kCosine, kConstant };

struct LrScheduleOptions {
  double peak = 1e-3;
  double min = 1e-4;
  int64_t warmup_steps = 100;
  int64_t total_steps = 2000;
  LrDecay decay = LrDecay::kCosine;
};

// Learning rate of optimizer step `step` (0-based): linear warm-up from peak/warmup_steps to peak
// over the first warmup_steps steps, then cosine decay to `min` at total_steps (or constant).
double learning_rate_at(const LrScheduleOptions& options, int64_t step);

}  // namespace switchyard::train
