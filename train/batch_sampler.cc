#include "train/batch_sampler.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "core/seed.h"

namespace switchyard::train {

BatchSampler::BatchSampler(const SamplerOptions& options) : options_(options) {
  SY_CHECK_GT(options_.world_size, 0);
  SY_CHECK(options_.rank >= 0 && options_.rank < options_.world_size);
  SY_CHECK_GT(options_.global_batch_size, 0);
  SY_CHECK_EQ(options_.global_batch_size % options_.world_size, 0)
      << "the global batch must split evenly over the ranks";
  SY_CHECK_GT(options_.seq_length, 0);
}

std::vector<int64_t> BatchSampler::global_offsets(Split split,
                                                  int64_t step,
                                                  int64_t num_tokens) const {
  const int64_t windows = num_tokens - options_.seq_length;  // valid starts: [0, windows)
  SY_CHECK_GT(windows, 0) << "corpus of " << num_tokens << " tokens is shorter than a window";
  const uint64_t stream = splitmix64(options_.seed ^ splitmix64(static_cast<uint64_t>(split)));
  std::vector<int64_t> offsets(options_.global_batch_size);
  for (int64_t i = 0; i < options_.global_batch_size; ++i) {
    const uint64_t r =
        splitmix64(stream ^ splitmix64(static_cast<uint64_t>(step) * 0x100000001b3ULL +
                                       static_cast<uint64_t>(i)));
    offsets[i] = static_cast<int64_t>(r % static_cast<uint64_t>(windows));
  }
  return offsets;
}

Batch BatchSampler::batch(Split split, int64_t step, const at::Tensor& tokens) const {
  SY_CHECK_EQ(tokens.dim(), 1);
  SY_CHECK(tokens.scalar_type() == at::kLong);
  const std::vector<int64_t> offsets = global_offsets(split, step, tokens.numel());
  const int64_t b = local_batch_size();
  const int64_t s = options_.seq_length;
  // [B_local] offsets of this rank's rows, then [B_local, S + 1] token windows.
  at::Tensor starts = at::tensor(std::vector<int64_t>(offsets.begin() + options_.rank * b,
                                                      offsets.begin() + (options_.rank + 1) * b),
                                 at::kLong);
  at::Tensor index = starts.unsqueeze(1) + at::arange(s + 1, at::kLong).unsqueeze(0);
  at::Tensor windows = tokens.index_select(0, index.reshape({-1})).reshape({b, s + 1});
  return Batch{windows.slice(1, 0, s).contiguous(), windows.slice(1, 1, s + 1).contiguous()};
}

}  // namespace switchyard::train
