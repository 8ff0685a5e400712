#include "models/transformer/moe_feed_forward.h"

#include "core/check.h"

namespace switchyard::models {

MoEFeedForwardImpl::MoEFeedForwardImpl(MoELayer layer) : layer_(std::move(layer)) {
  register_module("moe", layer_);
}

at::Tensor MoEFeedForwardImpl::forward(const at::Tensor& x) {
  return forward_with_token_ids(x, at::Tensor());
}

at::Tensor MoEFeedForwardImpl::forward_with_token_ids(const at::Tensor& x,
                                                      const at::Tensor& token_ids) {
  MoEForwardArgs args;
  args.step = step_;
  args.token_ids = token_ids;  // [B, S] or undefined
  if (routing_groups_ > 1) {
    const int64_t tokens = x.numel() / x.size(-1);  // B * S
    SY_CHECK_EQ(tokens % routing_groups_, 0) << "tokens must split evenly into routing groups";
    args.group_sizes.assign(routing_groups_, tokens / routing_groups_);
  }
  MoEOutput out = layer_->forward(x, args);  // [B, S, H]
  last_stats_ = std::move(out.stats);
  timing_ += out.timing;
  return out.output;
}

}  // namespace switchyard::models
