// File: models/transformer/causal_attention.h
//
// Fused causal multi-head attention core for the CPU, straight from the fused QKV projection:
//
//   y = causal_attention(qkv /* [B, S, 3H] */, num_heads);   // [B, S, H], differentiable
//
// Per (batch, head), with Q, K, V the head's [S, D] column blocks of qkv read in place (row
// stride 3H) and scale = 1/sqrt(D):
//   P = softmax_causal(scale * Q K^T)                       [S, S], row i over columns j <= i
//   Y = P V                                                 written into y's [S, D] block
// backward, from dY:
//   dV = P^T dY;   dP = dY V^T;   dS = P * (dP - rowsum(P * dP));
//   dQ = scale * dS K;   dK = scale * dS^T Q                written into dqkv's blocks
//
// Against the composition of ATen ops (matmul, masked_fill, softmax, matmul, transpose and
// contiguous copies, bmm looping over the heads with a tensor view per head) this does the same
// GEMMs as direct BLAS calls on strided blocks, one pass of masked softmax, and no head
// transposes. Saved for backward: qkv and P ([B, nh, S, S], as the composed version saves the
// softmax output). No dropout on the probabilities: the attention module uses the generic
// version when attention dropout is active (and rotates q and k before packing for rotary).
// float32 and float64, CPU, contiguous qkv.
// tests/models/transformer_test.cc compares it with the generic SDPA path (values, gradients).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace switchyard::models {

at::Tensor causal_attention(const at::Tensor& qkv, int64_t num_heads);

}  // namespace switchyard::models
