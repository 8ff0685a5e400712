// File: models/moe/dpsl_loss.h
//
// Dirichlet-Prior Shaping Loss (Mirvakhabova, Ehteshami Bejnordi, Kumar, Liang, Zhao, Whatmough,
// "Dirichlet-Prior Shaping: Guiding Expert Specialization in Upcycled MoEs", arXiv 2510.01185),
// in the Cramér–von Mises form of the authors' group's Batch-Shaping loss (ALGORITHMS.md §3.3):
//
//   for expert k, sort the N probabilities of the batch p_(1) <= ... <= p_(N);
//   L_k = (1/N) sum_m ( m/(N+1) - I_{p_(m)}(alpha_k, A - alpha_k) )^2,   A = sum_j alpha_j
//   L_DPSL = (1/E) sum_k L_k      (per routing group, averaged over the non-empty groups)
//
// i.e. the distance between the empirical CDF of each expert's probabilities and the CDF of the
// Beta(alpha_k, A - alpha_k) marginal of the Dirichlet(alpha) prior. Backward (Batch-Shaping code):
//   dL_k/dp_(m) = -(2/N) (m/(N+1) - F_k(p_(m))) * clip(f_k(p_(m)), pdf_min, pdf_max)
// with the sort permutation a constant and f_k the Beta density (clip [1e-3, 100] by default;
// whether DPSL keeps the clip is UNVERIFIED, so it is an option). The CDF and density are
// evaluated in double precision on the CPU.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

struct DirichletPrior {
  // Concentration per expert (asymmetric prior), or one value for every expert (symmetric).
  std::vector<double> alpha = {1.0};
  // Clip of the Beta density in the backward pass (Batch-Shaping's cdf_beta.py values).
  double pdf_min = 1e-3;
  double pdf_max = 100.0;

  // alpha_k of expert k of num_experts (checks the vector length).
  double concentration(int64_t k, int64_t num_experts) const;
};

// probs: [T, E] per-token categorical distributions (float32 or float64; rows need not be
// normalized by the caller: they are used as given). group_sizes: consecutive routing groups
// (empty = one group). Returns a differentiable scalar of probs' dtype.
at::Tensor dpsl_loss(const at::Tensor& probs,
                     const DirichletPrior& prior,
                     const std::vector<int64_t>& group_sizes = {});

// The same distance without autograd, in double (metrics): L_DPSL of one group of [N, E].
double dpsl_distance(const at::Tensor& probs, const DirichletPrior& prior);

// A scalar loss whose gradient with respect to `input` was computed together with its value on
// the host (the DPSL losses: the sort and the CDF serve both). Returns `loss` as a scalar of
// input's dtype and device; backward gives grad * upstream. grad: shaped like input, on its
// device.
at::Tensor loss_with_precomputed_gradient(const at::Tensor& input, double loss, at::Tensor grad);

}  // namespace switchyard::models
