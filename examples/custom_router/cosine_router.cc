#include "examples/custom_router/cosine_router.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "models/moe/routers/topk_router.h"

namespace example {

namespace sy = switchyard::models;

CosineRouter::CosineRouter(const sy::RouterOptions& options,
                           int64_t routing_dim,
                           double temperature)
    : options_(options), temperature_(temperature) {
  // Seeded from the options' init_seed, so every rank builds the same router.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.init_seed);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  projection_ = register_parameter(
      "projection",
      at::normal(0.0, options.init_std, {routing_dim, options.hidden_size}, gen, f32));
  expert_embedding_ = register_parameter(
      "expert_embedding", at::normal(0.0, 1.0, {options.num_experts, routing_dim}, gen, f32));
}

sy::RoutingResult CosineRouter::route(const at::Tensor& tokens, const sy::RoutingContext& context) {
  ++calls_;
  // The library's shared helper: float32 input with the configured jitter. [T, H]
  const at::Tensor x = sy::router_input(tokens, options_.input_jitter_eps, context);
  const at::Tensor z = at::linear(x, projection_);                              // [T, d_r]
  const at::Tensor zn = z / z.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-6);  // [T, d_r]
  const at::Tensor en =
      expert_embedding_ / expert_embedding_.norm(2, {-1}, true).clamp_min(1e-6);  // [E, d_r]
  sy::RoutingResult r;
  r.logits = at::matmul(zn, en.t()) / temperature_;                        // [T, E] cosine / tau
  r.scores = at::softmax(r.logits, -1);                                    // [T, E]
  r.expert_ids = std::get<1>(r.scores.detach().topk(options_.top_k, -1));  // [T, k]
  r.probs = r.scores.gather(1, r.expert_ids);                              // [T, k]
  if (options_.normalize_top_k) r.probs = r.probs / r.probs.sum(-1, true).clamp_min(1e-20);
  r.balance_ids = r.expert_ids;  // the config's load-balancing loss applies as for top-k
  r.balance_k = options_.top_k;
  return r;
}

}  // namespace example
