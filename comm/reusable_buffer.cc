#include "comm/reusable_buffer.h"

#include <ATen/ATen.h>

namespace switchyard::comm {

at::Tensor ReusableBuffer::get(at::IntArrayRef sizes, const at::TensorOptions& options) {
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  const auto bytes = static_cast<size_t>(numel) * options.dtype().itemsize();
  const bool reusable = storage_ && storage_.use_count() == 1 && storage_.nbytes() >= bytes &&
                        storage_.device() == options.device();
  if (!reusable) {
    at::Tensor fresh = at::empty(sizes, options);
    storage_ = fresh.storage();
    return fresh;
  }
  at::Tensor t = at::empty({0}, options);
  t.set_(storage_, /*storage_offset=*/0, sizes);  // contiguous strides
  return t;
}

}  // namespace switchyard::comm
