#include "models/moe/routers/stablemoe_router.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/global_counts.h"
#include "models/moe/routers/stablemoe_losses.h"
#include "models/moe/routers/topk_router.h"
#include "models/moe/routing_groups.h"

namespace switchyard::models {

at::Tensor seeded_orthogonal(int64_t rows, int64_t cols, double gain, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const bool transpose = rows < cols;
  // [max, min] normal draw; its QR gives orthonormal columns.
  at::Tensor a = at::normal(0.0, 1.0, {std::max(rows, cols), std::min(rows, cols)}, gen,
                            at::TensorOptions().dtype(at::kDouble));
  auto [q, r] = at::linalg_qr(a);                  // q: [max, min], r: [min, min]
  q = q * at::sign(at::diagonal(r)).unsqueeze(0);  // unique Q (positive diagonal of R)
  if (transpose) q = q.t();                        // [rows, cols]
  return (q * gain).to(at::kFloat).contiguous();
}

StableMoERouter::StableMoERouter(const RouterOptions& options) : options_(options) {
  SY_CHECK_EQ(options.top_k, 1) << "StableMoE routes each token to one expert";
  SY_CHECK_GT(options.hidden_size, 0) << "router hidden_size";
  SY_CHECK_GT(options.vocab_size, 0) << "StableMoE's distilled router needs the vocabulary size";
  SY_CHECK_GT(options.stablemoe.distilled_dim, 0) << "distilled_dim";
  const int64_t e = options.num_experts;
  const int64_t d = options.stablemoe.distilled_dim;
  centroids_ = register_parameter(
      "centroids", seeded_orthogonal(e, options.hidden_size, options.stablemoe.centroid_gain,
                                     options.init_seed));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.init_seed + 2);
  // N(0, 1): the authors' code keeps nn.Embedding's default initialization.
  distilled_embedding_ = register_parameter(
      "distilled_embedding",
      at::normal(0.0, 1.0, {options.vocab_size, d}, gen, at::TensorOptions().dtype(at::kFloat)));
  distilled_centroids_ = register_parameter(
      "distilled_centroids",
      seeded_orthogonal(e, d, options.stablemoe.centroid_gain, options.init_seed + 1));
}

void StableMoERouter::enter_stage2() {
  stage_ = 2;
  // Frozen for good: no gradient, and the trainer's optimizer skips parameters that do not
  // require one (ALGORITHMS.md §1.4 and §10.6).
  distilled_embedding_.requires_grad_(false);
  distilled_centroids_.requires_grad_(false);
}

void StableMoERouter::restore_stage(int stage) {
  SY_CHECK(stage == 1 || stage == 2) << "StableMoE stage must be 1 or 2, got " << stage;
  SY_CHECK(!(stage == 1 && stage_ == 2)) << "StableMoE cannot return from stage 2 to stage 1";
  if (stage == 2) enter_stage2();
}

at::Tensor StableMoERouter::distilled_logits(const at::Tensor& token_ids,
                                             const at::Tensor& previous_token_ids) const {
  SY_CHECK(token_ids.defined()) << "the StableMoE distilled router needs the token ids "
                                   "(MoEForwardArgs::token_ids)";
  if (previous_token_ids.defined()) {
    // Shuffled tokens: the predecessors were taken before the shuffle. ids, prev: [T]
    at::Tensor emb = at::embedding(distilled_embedding_, token_ids.reshape({-1}).to(at::kLong));
    if (options_.stablemoe.bigram) {
      at::Tensor prev = at::embedding(distilled_embedding_,
                                      previous_token_ids.reshape({-1}).to(at::kLong));  // [T, D]
      emb = (emb + prev) * 0.5;                                                         // [T, D]
    }
    return at::linear(emb, distilled_centroids_);  // [T, E]
  }
  at::Tensor ids = token_ids.dim() == 1 ? token_ids.unsqueeze(0) : token_ids;  // [B, S]
  SY_CHECK_EQ(ids.dim(), 2) << "token ids must be [B, S] or [T]";
  at::Tensor emb = at::embedding(distilled_embedding_, ids.to(at::kLong));  // [B, S, D]
  if (options_.stablemoe.bigram && ids.size(1) > 1) {
    // Previous token's embedding; the first position pairs with itself.
    at::Tensor prev = at::cat({emb.narrow(1, 0, 1), emb.narrow(1, 0, ids.size(1) - 1)}, 1);
    emb = (emb + prev) * 0.5;  // [B, S, D]
  }
  return at::linear(emb.reshape({-1, emb.size(-1)}), distilled_centroids_);  // [T, E]
}

RoutingResult StableMoERouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  const int64_t num_tokens = tokens.size(0);
  if (context.training && stage_ == 1 && context.step >= options_.stablemoe.stage2_step) {
    enter_stage2();
  }
  if (context.token_ids.defined()) {
    SY_CHECK_EQ(context.token_ids.numel(), num_tokens) << "one token id per routed token";
  }
  at::Tensor x = router_input(tokens, 0.0, context);  // [T, H] float32
  RoutingResult r;
  r.logits = at::linear(x, centroids_);  // [T, E] s = <E_c[i], h_t>
  r.scores = at::sigmoid(r.logits);      // [T, E]
  const bool distilled_decides = stage_ == 2 || !context.training;
  at::Tensor distilled;  // [T, E]
  if (distilled_decides || (context.training && options_.stablemoe.distill_coeff > 0.0)) {
    distilled = distilled_logits(context.token_ids, context.previous_token_ids);
  }
  at::Tensor assignment =
      distilled_decides ? distilled.detach().argmax(-1) : r.logits.detach().argmax(-1);  // [T]
  const StableMoEOptions& so = options_.stablemoe;
  const bool balance = context.training && stage_ == 1 && so.balance_coeff > 0.0;
  const bool capacity = so.global_counts && so.capacity_factor > 0.0;
  at::Tensor total;  // [E] tokens per expert over every routing group of the step
  at::Tensor keep;   // [T] within the global capacity
  if (so.global_counts && (balance || capacity)) {
    const std::vector<int64_t> sizes = resolve_routing_groups(num_tokens, context.group_sizes);
    const auto groups = static_cast<int64_t>(sizes.size());
    const int64_t e = options_.num_experts;
    at::Tensor gid = group_index(num_tokens, sizes, assignment.device());  // [T]
    at::Tensor local = at::bincount(gid * e + assignment, {}, groups * e).view({groups, e});
    // [G, E] -> [G_all, E] over the batch group: one all-gather per layer-step.
    const GatheredCounts gathered = gather_group_counts(local, context.count_group);
    total = gathered.counts.sum(0);  // [E]
    if (capacity) {
      // The authors' capacity: int(cf * tokens per expert) received tokens per expert, in
      // arrival order (source rank, then position); the rest bypass the expert.
      const auto c = static_cast<int64_t>(so.capacity_factor *
                                          static_cast<double>(total.sum().item<int64_t>()) /
                                          static_cast<double>(e));
      keep = keep_in_arrival_order(assignment, gid, gathered,
                                   at::full({e}, c, assignment.options().dtype(at::kLong)));
    }
  }
  r.expert_ids = assignment.view({num_tokens, 1});  // [T, 1]
  r.probs = r.scores.gather(1, r.expert_ids);       // [T, 1] sigmoid(s_{t,a_t})
  r.balance_k = 1;                                  // balance_ids undefined: own balance loss
  if (keep.defined()) {
    const int64_t dropped = keep.logical_not().sum().item<int64_t>();
    r.expert_ids =
        at::where(keep.view({num_tokens, 1}), r.expert_ids, at::full_like(r.expert_ids, -1));
    r.probs = r.probs * keep.view({num_tokens, 1}).to(r.probs.scalar_type());
    r.metrics.emplace_back(
        "stablemoe_dropped",
        static_cast<double>(dropped) / static_cast<double>(std::max<int64_t>(num_tokens, 1)));
  }
  if (context.training && stage_ == 1) {
    if (balance) {
      r.losses.push_back({"stablemoe_balance",
                          stablemoe_balance_loss(r.logits, assignment, context.group_sizes, true,
                                                 so.global_counts ? total : at::Tensor()),
                          so.balance_coeff});
    }
    if (options_.stablemoe.distill_coeff > 0.0) {
      r.losses.push_back({"stablemoe_distill",
                          stablemoe_distill_loss(distilled, assignment, context.group_sizes),
                          options_.stablemoe.distill_coeff});
    }
  }
  return r;
}

}  // namespace switchyard::models
