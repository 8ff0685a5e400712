// File: models/moe/incomplete_beta.h
//
// The regularized incomplete beta function I_x(a, b) (the Beta(a, b) CDF) and the Beta(a, b)
// density, in double precision. LibTorch has neither (ALGORITHMS.md §3.7); the Dirichlet-prior
// shaping loss (Mirvakhabova et al., arXiv 2510.01185) compares routing probabilities against
// the Beta marginals of a Dirichlet prior with them.
//
// I_x(a, b) uses the standard continued fraction of the incomplete beta function evaluated with
// the modified Lentz method, on the side of the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where it
// converges fast (x < (a + 1) / (a + b + 2)).
#pragma once

namespace switchyard::models {

// I_x(a, b) for a, b > 0; 0 for x <= 0 and 1 for x >= 1.
double regularized_incomplete_beta(double x, double a, double b);

// Beta(a, b) density x^(a-1) (1-x)^(b-1) / B(a, b) for a, b > 0; 0 outside [0, 1]. At the end
// points it is the limit (0, the finite value, or +infinity).
double beta_pdf(double x, double a, double b);

}  // namespace switchyard::models
