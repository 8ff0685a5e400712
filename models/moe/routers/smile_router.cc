#include "models/moe/routers/smile_router.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "core/check.h"
#include "models/moe/aux_losses.h"
#include "models/moe/router_noise.h"
#include "models/moe/routers/smile_balance.h"
#include "models/moe/routers/topk_router.h"

namespace switchyard::models {
namespace {

int64_t level_capacity(double cf, int64_t tokens, int64_t slots) {
  // ceil(cf * tokens / slots); the epsilon keeps exact products from rounding up.
  return static_cast<int64_t>(
      std::ceil(cf * static_cast<double>(tokens) / static_cast<double>(slots) - 1e-9));
}

}  // namespace

at::Tensor smile_capacity_keep(const at::Tensor& node,
                               const at::Tensor& local,
                               int64_t num_nodes,
                               int64_t experts_per_node,
                               double capacity_factor,
                               const std::vector<int64_t>& group_sizes,
                               int64_t* dropped_level1,
                               int64_t* dropped_level2) {
  const int64_t num_tokens = node.size(0);
  std::vector<int64_t> groups = group_sizes;
  if (groups.empty()) groups.push_back(num_tokens);
  // A sequential scan in token order: on the host (one copy each way for device tensors).
  at::Tensor n = node.to(at::kCPU, at::kLong).contiguous();   // [T]
  at::Tensor b = local.to(at::kCPU, at::kLong).contiguous();  // [T]
  const int64_t* pn = n.data_ptr<int64_t>();
  const int64_t* pb = b.data_ptr<int64_t>();
  at::Tensor keep = at::zeros({num_tokens}, at::kBool);  // [T]
  bool* pk = keep.data_ptr<bool>();
  int64_t drop1 = 0;
  int64_t drop2 = 0;
  int64_t start = 0;
  for (int64_t size : groups) {
    // Level 1: tokens in order, at most C_node per destination node.
    const int64_t c_node = level_capacity(capacity_factor, size, num_nodes);
    std::vector<int64_t> per_node(static_cast<size_t>(num_nodes), 0);
    std::vector<char> kept1(static_cast<size_t>(size), 0);
    for (int64_t i = 0; i < size; ++i) {
      int64_t& c = per_node[static_cast<size_t>(pn[start + i])];
      if (c < c_node) {
        ++c;
        kept1[static_cast<size_t>(i)] = 1;
      } else {
        ++drop1;
      }
    }
    // Level 2: per node a, C_loc = ceil(cf * T_ga / M) per expert of the node.
    std::vector<int64_t> per_expert(static_cast<size_t>(num_nodes * experts_per_node), 0);
    for (int64_t i = 0; i < size; ++i) {
      if (!kept1[static_cast<size_t>(i)]) continue;
      const int64_t a = pn[start + i];
      const int64_t c_loc =
          level_capacity(capacity_factor, per_node[static_cast<size_t>(a)], experts_per_node);
      int64_t& c = per_expert[static_cast<size_t>(a * experts_per_node + pb[start + i])];
      if (c < c_loc) {
        ++c;
        pk[start + i] = true;
      } else {
        ++drop2;
      }
    }
    start += size;
  }
  SY_CHECK_EQ(start, num_tokens) << "group sizes must add up to the number of tokens";
  if (dropped_level1 != nullptr) *dropped_level1 = drop1;
  if (dropped_level2 != nullptr) *dropped_level2 = drop2;
  return keep.to(node.device());
}

SmileRouter::SmileRouter(const RouterOptions& options) : options_(options) {
  SY_CHECK_EQ(options.top_k, 1) << "SMILE routes top-1 at each level";
  SY_CHECK_GT(options.num_nodes, 0);
  SY_CHECK_EQ(options.num_experts % options.num_nodes, 0)
      << "SMILE needs num_experts (" << options.num_experts << ") divisible by the nodes ("
      << options.num_nodes << ")";
  RouterOptions node_opts = options;
  node_opts.num_experts = options.num_nodes;
  node_weight_ = register_parameter("node_weight", initial_router_weight(node_opts));  // [N, H]
  RouterOptions local_opts = options;
  local_opts.init_seed = mix_seed(options.init_seed, 1, 0x736d);
  local_opts.num_experts =
      options.smile.router_per_node ? options.num_experts : options.num_experts / options.num_nodes;
  local_weight_ = register_parameter("local_weight", initial_router_weight(local_opts));
}

at::Tensor SmileRouter::coupling_weight() {
  const int64_t nodes = options_.num_nodes;
  const int64_t per_node = experts_per_node();
  at::Tensor node_rows = node_weight_.repeat_interleave(per_node, 0);  // [N, H] -> [E, H]
  at::Tensor local_rows = options_.smile.router_per_node
                              ? local_weight_                      // [E, H]
                              : local_weight_.repeat({nodes, 1});  // [M, H] -> [E, H]
  return node_rows + local_rows;                                   // [E, H]
}

RoutingResult SmileRouter::route(const at::Tensor& tokens, const RoutingContext& context) {
  const int64_t num_tokens = tokens.size(0);
  const int64_t nodes = options_.num_nodes;
  const int64_t per_node = experts_per_node();
  at::Tensor x = router_input(tokens, options_.input_jitter_eps, context);  // [T, H]

  at::Tensor node_logits = at::linear(x, node_weight_);  // [T, N]
  at::Tensor q = at::softmax(node_logits, -1);           // [T, N]
  at::Tensor a = q.detach().argmax(-1);                  // [T]

  at::Tensor local_all;  // [T, N, M] local logits of every node's router
  if (options_.smile.router_per_node) {
    local_all = at::linear(x, local_weight_).view({num_tokens, nodes, per_node});
  } else {
    local_all = at::linear(x, local_weight_).unsqueeze(1).expand({num_tokens, nodes, per_node});
  }
  // [T, M]: the local logits of the chosen node's router.
  at::Tensor local_logits =
      local_all.gather(1, a.view({num_tokens, 1, 1}).expand({num_tokens, 1, per_node})).squeeze(1);
  at::Tensor r = at::softmax(local_logits, -1);  // [T, M]
  at::Tensor b = r.detach().argmax(-1);          // [T]

  RoutingResult out;
  // [T, E] joint logits z_node[a] + z_loc[a][b] and scores q_a * softmax_b(z_loc[a]) (rows sum 1).
  out.logits = (node_logits.unsqueeze(2) + local_all).reshape({num_tokens, nodes * per_node});
  // [T, N, M] -> [T, E] (explicit sizes: -1 is ambiguous when T = 0)
  out.scores =
      (q.unsqueeze(2) * at::softmax(local_all, -1)).reshape({num_tokens, nodes * per_node});
  at::Tensor expert = a * per_node + b;  // [T]
  at::Tensor gate = q.gather(1, a.view({num_tokens, 1})) * r.gather(1, b.view({num_tokens, 1}));

  if (options_.smile.capacity_factor > 0.0) {
    int64_t drop1 = 0;
    int64_t drop2 = 0;
    at::Tensor keep =
        options_.smile.receiver_capacity
            ? smile_receiver_capacity_keep(a, b, nodes, per_node, options_.smile.capacity_factor,
                                           context.group_sizes, context.count_group, &drop1, &drop2)
            : smile_capacity_keep(a, b, nodes, per_node, options_.smile.capacity_factor,
                                  context.group_sizes, &drop1, &drop2);  // [T]
    expert = at::where(keep, expert, at::full_like(expert, -1));
    gate = gate * keep.view({num_tokens, 1}).to(gate.scalar_type());
    const double t = static_cast<double>(std::max<int64_t>(num_tokens, 1));
    out.metrics.emplace_back("smile_dropped_level1", static_cast<double>(drop1) / t);
    out.metrics.emplace_back("smile_dropped_level2", static_cast<double>(drop2) / t);
  }
  out.expert_ids = expert.view({num_tokens, 1});  // [T, 1]
  out.probs = gate;                               // [T, 1]
  // Per-level Switch losses (uniform routing at a level gives 1).
  out.losses.push_back({"smile_node_balance",
                        load_balancing_loss(q, a.view({num_tokens, 1}), 1, context.group_sizes),
                        options_.smile.balance_coeff});
  // Local level per destination node: only the tokens sent to node a compete for its experts.
  out.losses.push_back({"smile_local_balance",
                        smile_local_balance_loss(r, a, b, nodes, context.group_sizes),
                        options_.smile.balance_coeff});
  return out;
}

}  // namespace switchyard::models
