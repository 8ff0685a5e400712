// File: models/precision.h
//
// Mixed precision as scopes over LibTorch's autocast (thread-local state, restored on exit).
//
//   AutocastScope compute(device.type(), at::kBFloat16);   // the trainer, around forward
//   ...
//   AutocastScope fp32(device.type(), std::nullopt);        // the router, inside it
//
// Inside an enabled scope, matrix products (linear, matmul, bmm, baddbmm, ...) of float32 inputs
// run in the scope's dtype on weights cast per forward; the float32 parameters stay the master
// copy that the optimizer updates (their gradients arrive in float32 through the casts).
// Element-wise work keeps its inputs' dtype. A disabled scope inside an enabled one is where
// float32 math is a requirement (router logits, softmax, auxiliary losses).
#pragma once

#include <optional>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace switchyard::models {

class AutocastScope {
 public:
  // dtype: the compute dtype of matrix products in the scope; nullopt = float32 (autocast off).
  AutocastScope(c10::DeviceType device, std::optional<c10::ScalarType> dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool enabled_;
  bool was_enabled_;
  c10::ScalarType was_dtype_;
};

// The dtype matrix products of `device`'s tensors run in at this point: the autocast dtype
// inside an enabled scope, else float32.
c10::ScalarType compute_dtype(c10::DeviceType device);

}  // namespace switchyard::models
