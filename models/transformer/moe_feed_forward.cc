#include "models/transformer/moe_feed_forward.h"

#include "core/check.h"

namespace switchyard::models {

MoEFeedForwardImpl::MoEFeedForwardImpl(MoELayer layer) : layer_(std::move(layer)) {
  register_module("moe", layer_);
}

at::Tensor MoEFeedForwardImpl::forward(const at::Tensor& x, const ForwardContext& context) {
  MoEForwardArgs args;
  args.step = context.step;
  args.token_ids = context.token_ids;  // [B, S] or undefined
  args.batch_rows = context.batch_rows;
  if (routing_groups_ > 1) {
    const int64_t tokens = x.numel() / x.size(-1);  // B * S
    SY_CHECK_EQ(tokens % routing_groups_, 0) << "tokens must split evenly into routing groups";
    args.group_sizes.assign(routing_groups_, tokens / routing_groups_);
  }
  MoEOutput out = layer_->forward(x, args);  // [B, S, H]
  if (context.times != nullptr) {
    context.times->add("moe_route_forward", out.timing.route);
    context.times->add("moe_dispatch_forward", out.timing.dispatch);
    context.times->add("moe_experts_forward", out.timing.experts);
    context.times->add("moe_combine_forward", out.timing.combine);
  }
  return out.output;
}

}  // namespace switchyard::models
