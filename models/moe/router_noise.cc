#include "models/moe/router_noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/check.h"

namespace switchyard::models {

at::Tensor uniform_rows(uint64_t seed,
                        NoiseStream stream,
                        int64_t row_offset,
                        int64_t rows,
                        int64_t global_rows,
                        int64_t cols) {
  if (global_rows < 0) global_rows = rows;
  SY_CHECK(row_offset >= 0 && row_offset + rows <= global_rows)
      << "rows [" << row_offset << ", " << row_offset + rows << ") outside the global batch of "
      << global_rows;
  at::Generator gen =
      at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, static_cast<uint64_t>(stream), 0));
  // [global_rows, cols] -> rows of this caller.
  at::Tensor all = at::rand({global_rows, cols}, gen, at::kFloat);
  return all.narrow(0, row_offset, rows).contiguous();
}

}  // namespace switchyard::models
