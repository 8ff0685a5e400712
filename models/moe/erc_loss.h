// File: models/moe/erc_loss.h
//
// Expert-Router Coupling (ERC) loss: Lv, Ma, Ma, Qiao, "Coupling Experts and Routers in
// Mixture-of-Experts via an Auxiliary Loss", arXiv 2512.23447 (ICLR 2026); ALGORITHMS.md §2.
//
// Router R [n, d] (row i = centre of the tokens routed to expert i), experts' first projection
// W_g^j [d, D] (SwiGLU gate; the W_1 of non-gated experts, an UNVERIFIED extension):
//   eps_i      = min_{j != i} ||R_i - R_j|| / (2 ||R_i||)                    (no gradient)
//   Rtilde_i   = R_i * delta_i,  delta_i ~ U(1 - eps_i, 1 + eps_i)^d         (fresh per step/layer)
//   M[i, j]    = || Rtilde_i W_g^j ||_2                                       [n, n]
//   L_ERC      = 1/n^2 sum_i sum_{j != i} relu(M[i,j] - a M[i,i]) + relu(M[j,i] - a M[i,i])
// The cost is 2 n^2 d D FLOPs, independent of the number of tokens (no token enters the loss).
//
// Expert parallelism (§2.7): each EP rank computes its column block M[:, local] ([n, L]) from its
// own experts and all-gathers the blocks over the EP group; every rank then holds the same M and
// the same scalar. The gather's backward is a reduce-scatter (comm/all_gather_function.h): with
// Switchyard's gradient synchronization (dense gradients averaged over the world, expert
// gradients summed over the expert-data group and divided by the world size) that gives exactly
// the single-process gradients for both R and W_g, with no extra scaling (the P_ep factor §2.7
// applies to the router path is supplied by the summation over the P_ep copies). The noise delta
// is drawn from the (seed, layer, step) seed, identical on every rank.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/communicator.h"
#include "models/moe/experts.h"

namespace switchyard::models {

struct ErcOptions {
  double coeff = 0.0;  // loss weight; 0 = off
  double alpha = 1.0;  // margin in [0, 1]
  bool noise = true;   // bounded multiplicative noise on the proxy tokens
  // Differentiate the proxies with respect to R (paper; UNVERIFIED pseudocode indentation).
  // false = detached proxies: only the experts' W_g learn from the loss.
  bool router_gradient = true;
  // Compute M and its statistics even with coeff 0 (no gradient, no loss): a metrics baseline.
  bool measure = false;
  bool active() const { return coeff > 0.0 || measure; }
};

// eps_i of every router row (no gradient). router_weight: [n, d] -> [n].
at::Tensor erc_noise_levels(const at::Tensor& router_weight);

// Proxy tokens Rtilde = R * delta ([n, d]); delta from `seed` (identical for every caller with the
// same seed), or 1 without noise. Differentiable with respect to R.
at::Tensor erc_proxy_tokens(const at::Tensor& router_weight, uint64_t seed, bool noise);

// The first projection of expert kind `kind` from the stacked w1 [L, d, F1]: [L, d, D].
at::Tensor erc_first_projection(ExpertKind kind, const at::Tensor& w1);

// M[:, block] = ||proxy_i W^l||: proxy [n, d], projection [L, d, D] -> [n, L].
at::Tensor erc_coupling_block(const at::Tensor& proxy, const at::Tensor& projection);

// The loss of a full coupling matrix M [n, n] (differentiable).
at::Tensor erc_loss_from_matrix(const at::Tensor& matrix, double alpha);

// Replicated statistics of M for the metrics, as ("erc/<name>", value): diag_mean,
// offdiag_mean, row_violations and col_violations (fractions of the n(n-1) pairs with
// M[i,j] > a M[i,i], resp. M[j,i] > a M[i,i]).
std::vector<std::pair<std::string, double>> erc_matrix_stats(const at::Tensor& matrix,
                                                             double alpha);

struct ErcResult {
  at::Tensor loss;    // scalar float32, before the coefficient
  at::Tensor matrix;  // [n, n] detached
};

// The loss of one MoE layer, single process (expert_group null or of size 1) or expert-parallel.
class ExpertRouterCouplingLoss {
 public:
  ExpertRouterCouplingLoss(const ErcOptions& options,
                           ExpertKind expert_kind,
                           std::shared_ptr<comm::Communicator> expert_group = nullptr);

  // router_weight: [n, d] replicated; w1: this rank's experts' stacked first GEMM [L, d, F1]
  // (experts [rank * L, (rank + 1) * L)). seed: the layer's per-step seed. Collective over the
  // EP group in forward and backward.
  ErcResult compute(const at::Tensor& router_weight, const at::Tensor& w1, uint64_t seed) const;
  const ErcOptions& options() const { return options_; }

 private:
  ErcOptions options_;
  ExpertKind expert_kind_;
  std::shared_ptr<comm::Communicator> expert_group_;
};

}  // namespace switchyard::models
