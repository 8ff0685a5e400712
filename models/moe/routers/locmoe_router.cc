#include "models/moe/routers/locmoe_router.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/routers/locmoe_math.h"
#include "models/moe/routers/topk_router.h"

namespace switchyard::models {

LocMoERouter::LocMoERouter(const RouterOptions& options) : options_(options) {
  SY_CHECK(options.top_k >= 1 && options.top_k <= options.num_experts)
      << "top_k " << options.top_k << " with " << options.num_experts << " experts";
  SY_CHECK(options.num_nodes > 0 && options.num_experts % options.num_nodes == 0)
      << "LocMoE needs num_experts divisible by the nodes";
  if (options.locmoe.grouped_average_pooling) {
    SY_CHECK_EQ(options.hidden_size % options.num_experts, 0)
        << "GrAP needs hidden_size divisible by num_experts";
  } else {
    weight_ = register_parameter("weight", initial_router_weight(options));  // [E, H]
  }
  const LocMoEOptions& l = options.locmoe;
  ec_min_ =
      locmoe_min_capacity_bound(options.num_experts, options.hidden_size, l.capacity_bound_delta);
  cf_min_ =
      locmoe_capacity_factor_bound(options.num_experts, options.hidden_size, l.capacity_bound_delta,
                                   l.capacity_bound_units == LocMoEBoundUnits::kShareOfAssignments);
}

RoutingResult LocMoERouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  at::Tensor x = router_input(tokens, options_.input_jitter_eps, context);  // [T, H]
  RoutingResult r;
  r.logits = options_.locmoe.grouped_average_pooling
                 ? grouped_average_pooling_logits(x, options_.num_experts)
                 : at::linear(x, weight_);                                 // [T, E]
  r.scores = at::softmax(r.logits, -1);                                    // [T, E]
  r.expert_ids = std::get<1>(r.scores.detach().topk(options_.top_k, -1));  // [T, k]
  r.probs = r.scores.gather(1, r.expert_ids);                              // [T, k]
  r.normalized_weights = options_.normalize_top_k;
  if (options_.normalize_top_k) {
    r.probs = r.probs / r.probs.sum(-1, /*keepdim=*/true).clamp_min(1e-20);
  }
  r.balance_ids = r.expert_ids;
  r.balance_k = options_.top_k;
  r.losses.push_back({"locmoe_locality",
                      locality_loss(at::log_softmax(r.logits, -1), options_.num_nodes,
                                    context.group_sizes, context.group_nodes),
                      options_.locmoe.locality_coeff});
  if (options_.locmoe.capacity_bound != LocMoECapacityBound::kReport) {
    r.capacity_factor = cf_min_;
    r.capacity_factor_floor = options_.locmoe.capacity_bound == LocMoECapacityBound::kFloor;
  }
  r.metrics.emplace_back("locmoe_ec_min", ec_min_);
  r.metrics.emplace_back("locmoe_cf_min", cf_min_);
  return r;
}

}  // namespace switchyard::models
