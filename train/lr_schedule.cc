#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace switchyard::train {

double learning_rate_at(const LrScheduleOptions& o, int64_t step) {
  if (step < o.warmup_steps) {
    return o.peak * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  if (o.decay == LrDecay::kConstant) return o.peak;
  const int64_t decay_steps = std::max<int64_t>(1, o.total_steps - o.warmup_steps);
  const double progress =
      std::min(1.0, static_cast<double>(step - o.warmup_steps) / static_cast<double>(decay_steps));
  return o.min + 0.5 * (o.peak - o.min) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace switchyard::train
