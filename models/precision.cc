#include "models/precision.h"

#include <ATen/autocast_mode.h>

namespace switchyard::models {

AutocastScope::AutocastScope(c10::DeviceType device, std::optional<c10::ScalarType> dtype)
    : device_(device),
      enabled_(dtype.has_value()),
      was_enabled_(at::autocast::is_autocast_enabled(device)),
      was_dtype_(at::autocast::get_autocast_dtype(device)) {
  at::autocast::set_autocast_enabled(device_, enabled_);
  if (enabled_) {
    at::autocast::set_autocast_dtype(device_, *dtype);
    at::autocast::increment_nesting();
  }
}

AutocastScope::~AutocastScope() {
  // The outermost enabled scope drops the cached low-precision copies of the weights.
  if (enabled_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_dtype(device_, was_dtype_);
  at::autocast::set_autocast_enabled(device_, was_enabled_);
}

c10::ScalarType compute_dtype(c10::DeviceType device) {
  return at::autocast::is_autocast_enabled(device) ? at::autocast::get_autocast_dtype(device)
                                                   : c10::kFloat;
}

}  // namespace switchyard::models
