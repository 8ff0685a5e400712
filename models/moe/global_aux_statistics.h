// File: models/moe/global_aux_statistics.h
//
// Global statistics for the layer's aux losses (model.moe.aux_loss.global_statistics): instead of
// per routing group (one rank's tokens), the Switch load-balancing loss counts f_i over every
// token of the step, and DPSL compares each token's probability with the empirical CDF of every
// token of the step. One all-gather per layer-step carries both: the [E] selection counts, and,
// when DPSL is on, the [T, E] normalized probabilities as fixed-point integers (2^-52 steps, so
// their order is exact to that resolution). Every rank must route the same number of tokens
// (the batch sampler gives every rank the same rows; validation refuses the token shuffle).
// Each rank's loss uses its own tokens' scores with the global f (resp. the global ranks) and is
// normalized by its own token count, so the mean over ranks is the loss over the whole step.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "models/moe/dpsl_loss.h"

namespace switchyard::comm {
class Communicator;
}  // namespace switchyard::comm

namespace switchyard::models {

struct GlobalAuxStatistics {
  at::Tensor counts;        // [E] int64 selections over the step
  int64_t tokens = 0;       // tokens of the step
  at::Tensor sorted_probs;  // [N, E] double, every column ascending (fixed-point values); or {}
};

// local_counts: [E] selections of this call; probs: [T, E] (or undefined: no DPSL). Collective
// over `group` when it has more than one rank; without one this call's tokens are the step.
GlobalAuxStatistics gather_aux_statistics(const at::Tensor& local_counts,
                                          int64_t local_tokens,
                                          const at::Tensor& probs,
                                          comm::Communicator* group);

// E * sum_i f_i P_i with f_i = global_counts_i / (tokens * k) (no gradient) and P_i the mean of
// this call's scores [T, E].
at::Tensor global_load_balancing_loss(const at::Tensor& scores,
                                      const GlobalAuxStatistics& stats,
                                      int64_t k);

// DPSL of this call's probs [T, E] against the step's empirical CDF: token t of expert k has rank
// m = #{step values <= p_tk} (ties share the highest rank), L = (1/T) sum_t (1/E) sum_k
// (m / (N + 1) - F_k(p_tk))^2; backward as dpsl_loss (sort constant, clipped Beta density).
at::Tensor global_dpsl_loss(const at::Tensor& probs,
                            const DirichletPrior& prior,
                            const GlobalAuxStatistics& stats);

}  // namespace switchyard::models
