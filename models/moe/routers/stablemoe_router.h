// File: models/moe/routers/stablemoe_router.h
//
// StableMoE two-stage routing (Dai et al., "StableMoE: Stable Routing Strategy for Mixture of
// Experts", arXiv 2204.08396; details from the authors' fairseq code, ALGORITHMS.md §1).
//
// Parameters: backbone centroids E_c [E, H]; distilled router = token embedding D_emb [V, D] and
// distilled centroids E_d [E, D] (both centroid matrices orthogonal-initialized, gain 0.1).
//
// Stage 1 (training, step < stage2_step):
//   s = x E_c^T [T, E]; assignment a_t = argmax_i s_{t,i} (greedy top-1, README's "GA");
//   gate sigmoid(s_{t,a_t}) (the layer output is gate * F_{a_t}(x); the block adds the residual);
//   losses: the StableMoE balance loss and the distillation loss CE(D_emb[x_t] E_d^T, a_t)
//   (stablemoe_losses.h), added through RoutingResult::losses.
// Stage 2 (from the first training forward with step >= stage2_step, or restored from a
// checkpoint): a_t = argmax_i <E_d[i], D_emb[x_t]> decided by the distilled router, which is
// frozen (requires_grad = false: the trainer's optimizer skips it, so neither it nor its AdamW
// moments move); the gate still uses the backbone centroids, which keep training. No losses.
// Evaluation (not training, any stage): assignment from the distilled router, as in the code.
// Distilled-router variants: word embedding of the token (README), or the bigram variant (mean
// of the current and previous token embeddings; the first token of a sequence uses its own).
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class StableMoERouter : public Router {
 public:
  explicit StableMoERouter(const RouterOptions& options);

  // Needs context.token_ids whenever the distilled router is used (stage 2, evaluation, and the
  // distillation loss of stage 1).
  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return 1; }
  bool uses_batch_noise(bool training) const override { return false; }  // no jitter
  int stage() const override { return stage_; }
  // ERC couples the experts with the backbone centroids E_c [E, H]: the score <E_c[i], h> is the
  // router row of expert i (the distilled router only imitates it).
  at::Tensor coupling_weight() override { return centroids_; }
  // Stage 2 freezes the distilled router; stage 1 after stage 2 is refused.
  void restore_stage(int stage) override;

  // [T, E] distilled-router logits <E_d[i], D_emb features of token t>. token_ids: [B, S] or [T]
  // (one sequence). previous_token_ids ([T], optional): each token's predecessor for the bigram
  // features when the order no longer tells (shuffled tokens); token_ids is then any shape of T.
  at::Tensor distilled_logits(const at::Tensor& token_ids,
                              const at::Tensor& previous_token_ids = {}) const;

  const at::Tensor& centroids() const { return centroids_; }                      // [E, H]
  const at::Tensor& distilled_embedding() const { return distilled_embedding_; }  // [V, D]
  const at::Tensor& distilled_centroids() const { return distilled_centroids_; }  // [E, D]

 private:
  void enter_stage2();

  RouterOptions options_;
  int stage_ = 1;
  at::Tensor centroids_;
  at::Tensor distilled_embedding_;
  at::Tensor distilled_centroids_;
};

// A [rows, cols] float32 matrix with orthonormal rows (or columns, if rows > cols) times gain,
// from a seeded normal draw (the orthogonal init of the StableMoE code).
at::Tensor seeded_orthogonal(int64_t rows, int64_t cols, double gain, uint64_t seed);

}  // namespace switchyard::models
