// File: models/transformer/moe_feed_forward.h
//
// The MoE layer in a transformer block's feed-forward slot: forward(x [B, S, H], context) ->
// [B, S, H]. The context brings the step (routing noise, staged routers), the input token ids,
// this rank's rows of the global batch and the timing sink ("moe_route_forward", ...).
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "models/moe/moe_layer.h"
#include "models/transformer/feed_forward.h"

namespace switchyard::models {

class MoEFeedForwardImpl : public FeedForward {
 public:
  explicit MoEFeedForwardImpl(MoELayer layer);
  // x: [B, S, H] -> [B, S, H] (the MoE output; the block adds the residual).
  at::Tensor forward(const at::Tensor& x, const ForwardContext& context) override;
  at::Tensor forward(const at::Tensor& x) { return forward(x, ForwardContext{}); }

  // Splits the local tokens into `groups` equal routing groups (capacity, expert choice and the
  // balance losses are per group). A distributed layer's group is its rank's tokens, so a
  // single-process run of W ranks' batch uses W groups to compute exactly what they compute.
  void set_routing_groups(int64_t groups) { routing_groups_ = groups; }
  const RoutingStats& last_stats() const { return layer_->last_stats(); }
  MoELayer& layer() { return layer_; }

 private:
  MoELayer layer_;
  int64_t routing_groups_ = 1;
};
TORCH_MODULE(MoEFeedForward);

}  // namespace switchyard::models
