// File: models/transformer/moe_feed_forward.h
//
// The MoE layer in a transformer block's feed-forward slot: forward(x [B, S, H]) -> [B, S, H],
// with the step (which seeds routing noise) set by the trainer before each forward and the last
// forward's routing statistics kept for metrics.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "models/moe/moe_layer.h"

namespace switchyard::models {

class MoEFeedForwardImpl : public torch::nn::Module {
 public:
  explicit MoEFeedForwardImpl(MoELayer layer);
  // x: [B, S, H] -> [B, S, H] (the MoE output; the block adds the residual).
  at::Tensor forward(const at::Tensor& x);
  // The same with the input token ids [B, S] int64 (routers that route on token ids, e.g.
  // StableMoE's distilled router); the transformer block calls this one.
  at::Tensor forward_with_token_ids(const at::Tensor& x, const at::Tensor& token_ids);

  // Also starts a new step's timing.
  void set_step(int64_t step) {
    step_ = step;
    timing_ = MoETiming{};
  }
  // Forward stage times summed over the forwards since set_step().
  const MoETiming& timing() const { return timing_; }
  // Splits the local tokens into `groups` equal routing groups (capacity, expert choice and the
  // balance losses are per group). A distributed layer's group is its rank's tokens, so a
  // single-process run of W ranks' batch uses W groups to compute exactly what they compute.
  void set_routing_groups(int64_t groups) { routing_groups_ = groups; }
  const RoutingStats& last_stats() const { return last_stats_; }
  MoELayer& layer() { return layer_; }

 private:
  MoELayer layer_;
  int64_t step_ = 0;
  int64_t routing_groups_ = 1;
  RoutingStats last_stats_;
  MoETiming timing_;
};
TORCH_MODULE(MoEFeedForward);

}  // namespace switchyard::models
