// File: launch/plan/memory_cost.h
//
// Memory per rank, bytes:
//   parameters   dense (embeddings, attention, norms, dense FFNs, router) + E / P experts per
//                MoE layer
//   weights 4 B, gradients 4 B, AdamW moments 8 B per parameter (float32 master weights; BF16
//                adds 2 B of autocast copies)
//   activations  per block T x (kActivationWidths x H + 2 F) x b saved for backward, plus
//                T x heads x S x b of attention probabilities, logits T x V x 4 x 2
//   dispatch     send and receive buffers of dispatch and combine: 4 x T x k x c x H x b with
//                c = max(1, capacity_factor) (dropless: 1 + load_cv), and the expert
//                activations of the busiest rank rows x (2 H + 2 F) x b
#pragma once

#include "launch/plan/model_shape.h"

namespace switchyard::plan {

inline constexpr double kActivationWidths = 10;  // saved [T, H] tensors per block (assumed)

struct ParamCount {
  double dense = 0;         // replicated on every rank
  double expert_total = 0;  // all experts of all MoE layers
  double expert_local = 0;  // this rank's E / P experts of every MoE layer
};
ParamCount param_count(const ModelShape& model, const Layout& layout);

struct MemoryBytes {
  double weights = 0;
  double grads = 0;
  double optimizer = 0;
  double activations = 0;
  double dispatch = 0;
  double total() const { return weights + grads + optimizer + activations + dispatch; }
};
MemoryBytes memory_per_rank(const ModelShape& model, const Layout& layout);

}  // namespace switchyard::plan
