// File: models/moe/routers/locmoe_router.h
//
// LocMoE locality-aware router (Li et al., "LocMoE: A Low-overhead MoE for Large Language Model
// Training", arXiv 2401.13920, IJCAI 2024; ALGORITHMS.md §5). Token-choice top-k on softmax
// scores of either a learned linear gate [E, H] or grouped average pooling (GrAP, §5.2, no
// parameters). Losses: the layer's Switch balance loss (balance_ids = the selection) plus the
// locality loss mu * KL(p_local || pbar) per routing group (§5.3 reconstruction, locmoe_math.h),
// which pulls each rank's routing towards the experts of its own node (context.group_nodes) so
// that part of the all-to-all traffic stays inside the node. The minimum-capacity bound of §5.4
// is reported in the metrics ("locmoe_ec_min", its capacity factor "locmoe_cf_min") and, unless
// locmoe.capacity_bound is REPORT, requested from a capacity-limited layer as a floor of its
// capacity factor (FLOOR) or as the capacity factor itself (SET).
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class LocMoERouter : public Router {
 public:
  explicit LocMoERouter(const RouterOptions& options);

  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return options_.top_k; }
  bool uses_batch_noise(bool training) const override {
    return training && options_.input_jitter_eps > 0.0;  // the input jitter only
  }

  const at::Tensor& weight() const { return weight_; }  // [E, H]; undefined with GrAP

 private:
  RouterOptions options_;
  at::Tensor weight_;
  double ec_min_ = 0.0;
  double cf_min_ = 0.0;  // the bound as a capacity factor
};

}  // namespace switchyard::models
