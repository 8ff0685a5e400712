// File: models/moe/routers/smile_router.h
//
// SMILE bi-level routing (He, Zheng, Zhang, Karypis, Chilimbi, Soltanolkotabi, Avestimehr,
// "SMILE: Scaling Mixture-of-Experts with Efficient Bi-level Routing", arXiv 2212.05191;
// ALGORITHMS.md §4). The EP group has N nodes; node a holds the M = E / N experts
// [a M, (a + 1) M). Per token t (float32):
//
//   q_t = softmax(W_node x_t)  [N]      a_t = argmax q_t                (node, top-1)
//   r_t = softmax(W_loc x_t)   [M]      b_t = argmax r_t                (expert within the node)
//   expert a_t M + b_t, gate g_t = q_{t,a_t} * r_{t,b_t}
//
// W_loc is shared by all nodes ([M, H]) or one per node ([N M, H], the rows of node a_t are used;
// option smile.router_per_node). Losses (each normalized to 1 under uniform routing, weight
// smile.balance_coeff; Switch convention): L_node = N sum_a f_a P_a over q and a_t per routing
// group; L_loc = M sum_b f_ab P_ab per (routing group, destination node a), token-weighted over
// the nodes (smile_balance.h); both averaged over the groups.
// Capacity (smile.capacity_factor cf > 0, position priority):
//   level 1 at the source: per (group, node) C_node = ceil(cf T_g / N) tokens;
//   level 2 at the receiver (smile.receiver_capacity, default): per expert of node a,
//            ceil(cf T_a / M) with T_a the level-1 survivors node a receives from every source
//            (smile_balance.h; one all-gather); or per (group, expert) ceil(cf T_ga / M) with
//            T_ga the group's own survivors for node a (smile_capacity_keep below).
// Dropped tokens get expert -1 (output 0; the residual carries them). The level-2 choice b_t is
// made at the source and travels with the token (the router weights are replicated, so the
// receiver would choose the same). The standard layer balance loss is not used.
#pragma once

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

class SmileRouter : public Router {
 public:
  explicit SmileRouter(const RouterOptions& options);
  // ERC's router rows [E, H]: the joint logit of expert a M + b is linear in x with row
  // W_node[a] + W_loc[b] (W_loc[a M + b] with one local router per node), so those rows couple.
  at::Tensor coupling_weight() override;

  RoutingResult route(const at::Tensor& tokens, const RoutingContext& context) override;
  int64_t num_experts() const override { return options_.num_experts; }
  int64_t slots_per_token() const override { return 1; }
  bool uses_batch_noise(bool training) const override {
    return training && options_.input_jitter_eps > 0.0;  // the input jitter only
  }

  int64_t num_nodes() const { return options_.num_nodes; }
  int64_t experts_per_node() const { return options_.num_experts / options_.num_nodes; }
  const at::Tensor& node_weight() const { return node_weight_; }    // [N, H] float32
  const at::Tensor& local_weight() const { return local_weight_; }  // [M, H] or [N M, H]

 private:
  RouterOptions options_;
  at::Tensor node_weight_;
  at::Tensor local_weight_;
};

// [T] bool: position-priority capacity at both levels counted per source routing group (the
// smile.receiver_capacity: false variant) for the tokens' node and local choices ([T] int64
// each), per consecutive routing group. Exposed for tests.
at::Tensor smile_capacity_keep(const at::Tensor& node,
                               const at::Tensor& local,
                               int64_t num_nodes,
                               int64_t experts_per_node,
                               double capacity_factor,
                               const std::vector<int64_t>& group_sizes,
                               int64_t* dropped_level1 = nullptr,
                               int64_t* dropped_level2 = nullptr);

}  // namespace switchyard::models
