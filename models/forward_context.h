// File: models/forward_context.h
//
// What one model forward carries besides its input: the training step (routing noise, staged
// routers), the input token ids (routers that route on them), where this rank's tokens sit in
// the global batch (when the caller knows it, the MoE layers need no collective to find out),
// and the step's one timing sink. The language model fills token_ids; the trainer fills the rest.
//
//   StageTimes times;
//   ForwardContext ctx{.step = step, .batch_rows = rows, .times = &times};
//   at::Tensor logits = model->forward(tokens, ctx);   // times: "attention_forward", "moe_*"
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

// Rows (tokens) of this rank in the rank-ordered global batch of the data-parallel world:
// [offset, offset + local tokens) of `global` rows. Seeds the batch-wide routing noise.
struct BatchRows {
  int64_t offset = 0;
  int64_t global = 0;
};

// Wall time per stage name, summed over the forwards that add to it (seconds).
class StageTimes {
 public:
  void add(const std::string& stage, double seconds) { seconds_[stage] += seconds; }
  const std::map<std::string, double>& seconds() const { return seconds_; }

 private:
  std::map<std::string, double> seconds_;
};

struct ForwardContext {
  int64_t step = 0;
  // [B, S] int64 input token ids; set by LanguageModel::forward (undefined = none).
  at::Tensor token_ids;
  // This rank's rows of the global batch, when every rank's row count is known to the caller
  // (the trainer's sampler); empty = the MoE layers all-gather the counts if they need them.
  std::optional<BatchRows> batch_rows;
  // Where the stages add their forward time; null = not timed (evaluation, generation).
  StageTimes* times = nullptr;
};

}  // namespace switchyard::models
