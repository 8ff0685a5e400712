// File: train/batch_sampler.h
//
// Deterministic, stateless sampling of training windows. The global batch of step s is a pure
// function of (seed, split, s): every rank computes the same B window offsets and takes its own
// contiguous share of rows. Hence
//   * the global batch does not depend on the world size (1 rank and 4 ranks see the same data),
//   * resuming needs only the step number (the data position is the step), and
//   * no rank communicates to agree on data.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::train {

enum class Split : uint64_t { kTrain = 1, kVal = 2 };

struct SamplerOptions {
  int64_t global_batch_size = 12;  // sequences per step over all ranks
  int64_t seq_length = 64;
  uint64_t seed = 1337;
  int rank = 0;  // data-parallel rank
  int world_size = 1;
};

struct Batch {
  at::Tensor inputs;   // [B_local, S] int64
  at::Tensor targets;  // [B_local, S] int64, inputs shifted by one token
};

class BatchSampler {
 public:
  explicit BatchSampler(const SamplerOptions& options);

  // Start offsets of the whole global batch of `step` in a corpus of `num_tokens` tokens:
  // [global_batch_size], identical on every rank.
  std::vector<int64_t> global_offsets(Split split, int64_t step, int64_t num_tokens) const;

  // This rank's rows of the global batch of `step`.
  Batch batch(Split split, int64_t step, const at::Tensor& tokens /* [N] int64 */) const;

  int64_t local_batch_size() const { return options_.global_batch_size / options_.world_size; }

 private:
  SamplerOptions options_;
};

}  // namespace switchyard::train
