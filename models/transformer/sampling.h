// File: models/transformer/sampling.h
//
// Autoregressive sampling from a LanguageModel.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>

#include "models/transformer/language_model.h"

namespace switchyard::models {

struct SamplingOptions {
  int64_t max_new_tokens = 200;
  double temperature = 0.8;  // 0 = greedy (arg-max)
  int64_t top_k = 40;        // 0 = all tokens
};

// Appends max_new_tokens tokens to `prompt` (which must not be empty); the context is cropped to
// the model's seq_length. Runs in eval mode without gradients and restores the training mode.
std::vector<int64_t> generate(LanguageModel& model,
                              const std::vector<int64_t>& prompt,
                              const SamplingOptions& options,
                              at::Generator generator);

}  // namespace switchyard::models
