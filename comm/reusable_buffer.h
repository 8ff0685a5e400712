// File: comm/reusable_buffer.h (internal to comm/)
//
// ReusableBuffer: output storage a strategy reuses across exchanges once the caller has dropped
// every tensor that used it (storage use count back to 1), so that repeated exchanges do not pay
// for fresh pages (page faults and zeroing dominated large flat exchanges in the benchmark).
// Otherwise it allocates new storage, which becomes the buffer. Not thread-safe (one strategy,
// one thread).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Storage.h>

namespace switchyard::comm {

class ReusableBuffer {
 public:
  // A contiguous tensor of `sizes` with `options` (dtype, device).
  at::Tensor get(at::IntArrayRef sizes, const at::TensorOptions& options);

 private:
  c10::Storage storage_;
};

}  // namespace switchyard::comm
