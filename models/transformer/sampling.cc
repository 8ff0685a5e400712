#include "models/transformer/sampling.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "core/check.h"

namespace switchyard::models {

std::vector<int64_t> generate(LanguageModel& model,
                              const std::vector<int64_t>& prompt,
                              const SamplingOptions& options,
                              at::Generator generator) {
  SY_CHECK(!prompt.empty()) << "generation needs a non-empty prompt";
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<int64_t> tokens = prompt;
  const int64_t context = model->options().seq_length;
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    const int64_t start = std::max<int64_t>(0, static_cast<int64_t>(tokens.size()) - context);
    const at::Tensor window =
        at::tensor(std::vector<int64_t>(tokens.begin() + start, tokens.end()), at::kLong)
            .unsqueeze(0)
            .to(model->device());  // [1, S]
    // The last position's logits, on the host in float32: the generator is a CPU one, so the
    // sample does not depend on the device or the compute precision's last bits beyond these.
    at::Tensor logits =
        model->forward(window).select(1, -1).squeeze(0).to(at::kCPU, at::kFloat);  // [V]
    int64_t next;
    if (options.temperature <= 0) {
      next = logits.argmax().item<int64_t>();
    } else {
      logits = logits / options.temperature;
      if (options.top_k > 0 && options.top_k < logits.size(0)) {
        const at::Tensor kth = std::get<0>(logits.topk(options.top_k)).select(0, -1);
        logits = logits.masked_fill(logits < kth, -INFINITY);
      }
      const at::Tensor probs = at::softmax(logits, 0);  // [V]
      next = at::multinomial(probs, 1, /*replacement=*/false, generator).item<int64_t>();
    }
    tokens.push_back(next);
  }
  model->train(was_training);
  return tokens;
}

}  // namespace switchyard::models
