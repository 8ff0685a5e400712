// Helpers of the MoE edge-case tests (moe_edge_cases_test.cc in one process,
// moe_edge_cases_mpi_test.cc at EP 1-8): a layer of every router kind, routings forced through
// the routers' own weights, non-finite inputs, and the checks every case makes (idle experts get
// exactly zero gradients, outputs equal what the kept assignments say).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "models/moe/moe_builder.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models::testing {

constexpr int64_t kEdgeVocab = 23;  // StableMoE's distilled router embeds token ids
constexpr double kForce = 30.0;     // router logit bias that decides the routing alone

// Every built-in router kind, and the top-k variants with their own code paths: Switch top-1
// (no renormalization) and DeepSeek-V3 (sigmoid scores, aux-loss-free bias, group-limited).
inline std::vector<std::string> edge_router_kinds() {
  return {"switch", "top_k", "deepseek", "gshard", "expert_choice", "stablemoe", "smile", "locmoe"};
}

// Routers that pick tokens per expert (every expert takes its share of every non-empty group),
// so an expert can be idle only when every group is empty.
inline bool experts_choose(const std::string& kind) { return kind == "expert_choice"; }

// The layer options of `kind` with E experts and capacity factor cf (0 = dropless). The capacity
// goes where the router family keeps it: the layer's dispatcher capacity, StableMoE's global
// capacity (as the config builder does) or SMILE's two levels. LocMoE's minimum-capacity bound
// only reports, so that a low capacity is the one asked for.
inline MoEBuildOptions edge_options(const std::string& kind, int64_t experts, double cf) {
  LayerSpec s;
  s.router = kind;
  s.experts = experts;
  s.hidden = 16;
  s.ffn = 24;
  s.top_k = 2;
  if (kind == "switch") {
    s.router = "top_k";
    s.top_k = 1;
    s.normalize = false;
  } else if (kind == "deepseek") {
    s.router = "top_k";
    s.score = ScoreFunction::kSigmoid;
    s.expert_bias = true;
    s.expert_groups = 2;
    s.group_top_k = 1;
    s.expert_kind = ExpertKind::kSwiGlu;
  } else if (kind == "stablemoe" || kind == "smile") {
    s.top_k = 1;
    s.normalize = kind != "smile";
  }
  MoEBuildOptions o = build_options(s);
  o.router.vocab_size = kEdgeVocab;
  o.router.stablemoe.stage2_step = 1000;
  o.router.stablemoe.distilled_dim = 5;
  o.router.smile.router_per_node = true;  // one local router row per expert: forceable exactly
  o.router.locmoe.locality_coeff = 0.5;
  o.router.locmoe.capacity_bound = LocMoECapacityBound::kReport;
  if (kind == "stablemoe") {
    o.router.stablemoe.capacity_factor = cf;
    o.layer.capacity.capacity_factor = 0.0;
  } else if (kind == "smile") {
    o.router.smile.capacity_factor = cf;
    o.layer.capacity.capacity_factor = 0.0;
  } else {
    o.layer.capacity.capacity_factor = cf;
  }
  return o;
}

// Token ids for StableMoE's distilled router: [T] int64 in [0, kEdgeVocab).
inline at::Tensor edge_token_ids(int64_t first, int64_t count) {
  return at::arange(first, first + count, at::kLong).mul(7).remainder(kEdgeVocab);
}

// Sets the routers' weights so that expert e's logit is bias[e] * x[:, 0] + (the other
// features' terms, scaled to |.| well below 1), for inputs with x[:, 0] = 1 (force_feature): a
// bias of +kForce selects an expert for every token, -kForce keeps every token away from it (and
// a group-limited router's group of the +kForce expert wins: 1 + 0.5ish against 0.5 + 0.5ish).
// SMILE gets the node bias max_{e in node} bias[e] and the per-node local bias bias[e]; StableMoE
// both its routing centroids and its distilled router (embedding feature 0 = 1).
inline void force_routing(Router& router, const std::vector<double>& bias) {
  torch::NoGradGuard no_grad;
  const auto e = static_cast<int64_t>(bias.size());
  const at::Tensor b = at::tensor(bias, at::kDouble).to(at::kFloat);  // [E]
  auto params = router.named_parameters(/*recurse=*/false);
  for (const char* name : {"weight", "centroids", "distilled_centroids", "local_weight"}) {
    if (at::Tensor* w = params.find(name)) {
      ASSERT_EQ(w->size(0), e) << name;
      w->narrow(1, 1, w->size(1) - 1).mul_(0.1);  // the rest: |logit| well below 1
      w->select(1, 0).copy_(b);
    }
  }
  if (at::Tensor* emb = params.find("distilled_embedding")) emb->select(1, 0).fill_(1.0);
  if (at::Tensor* node = params.find("node_weight")) {
    const int64_t nodes = node->size(0);
    node->narrow(1, 1, node->size(1) - 1).mul_(0.1);
    node->select(1, 0).copy_(std::get<0>(b.view({nodes, e / nodes}).max(1)));  // [N]
  }
}

// bias[e] = value for the experts in `experts`, 0 elsewhere.
inline std::vector<double> bias_for(int64_t num_experts,
                                    const std::vector<int64_t>& experts,
                                    double value) {
  std::vector<double> bias(static_cast<size_t>(num_experts), 0.0);
  for (int64_t e : experts) bias[static_cast<size_t>(e)] = value;
  return bias;
}

// x with feature 0 set to 1 (the feature force_routing keys on).
inline at::Tensor force_feature(at::Tensor x) {
  x = x.clone();
  x.select(1, 0).fill_(1.0);
  return x;
}

inline at::Tensor with_rows(at::Tensor x, int64_t first, int64_t count, double value) {
  x = x.clone();
  x.narrow(0, first, count).fill_(value);
  return x;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

inline bool all_finite(const at::Tensor& t) { return at::isfinite(t).all().item<bool>(); }

// Largest |value| of a tensor (NaN if it holds one), as a double.
inline double max_abs(const at::Tensor& t) {
  if (t.numel() == 0) return 0.0;
  return t.detach().abs().max().item<double>();
}

// The gradients of every local expert that received no rows (received[l] == 0) are exactly 0
// (w1 and w2): not NaN, not tiny. Experts that received rows have defined gradients; when
// `busy_finite`, finite ones.
inline void expect_idle_experts_zero(MoELayer& layer,
                                     const std::vector<int64_t>& received,
                                     bool busy_finite) {
  const at::Tensor g1 = layer->experts().w1().grad();  // [L, H, F1]
  const at::Tensor g2 = layer->experts().w2().grad();  // [L, F, H]
  ASSERT_TRUE(g1.defined() && g2.defined()) << "expert gradients must exist on every rank";
  ASSERT_EQ(static_cast<int64_t>(received.size()), g1.size(0));
  for (int64_t l = 0; l < g1.size(0); ++l) {
    const size_t i = static_cast<size_t>(l);
    if (received[i] == 0) {
      EXPECT_EQ(max_abs(g1.select(0, l)), 0.0) << "idle local expert " << l << " w1 gradient";
      EXPECT_EQ(max_abs(g2.select(0, l)), 0.0) << "idle local expert " << l << " w2 gradient";
    } else if (busy_finite) {
      EXPECT_TRUE(all_finite(g1.select(0, l))) << "local expert " << l << " w1 gradient";
      EXPECT_TRUE(all_finite(g2.select(0, l))) << "local expert " << l << " w2 gradient";
    }
  }
}

// The layer output recomputed from its own plan, one kept row at a time with the experts'
// weights (a naive oracle of dispatch, experts and combine): out[t] = sum of weight * f_e(x_t)
// over the kept rows of t. Local layers only (all experts in this process). x: [T, H].
inline at::Tensor oracle_output(MoELayer& layer, const at::Tensor& x, ExpertKind kind) {
  torch::NoGradGuard no_grad;
  const DispatchPlan& plan = layer->last_plan();
  const at::Tensor w1 = layer->experts().w1();  // [E, H, F1]
  const at::Tensor w2 = layer->experts().w2();  // [E, F, H]
  at::Tensor out = at::zeros_like(x);           // [T, H]
  const at::Tensor token = plan.token_index.to(at::kCPU);
  const at::Tensor weight = plan.weights.detach().to(at::kCPU);
  int64_t row = 0;
  for (int64_t e = 0; e < plan.num_experts; ++e) {
    for (int64_t i = 0; i < plan.tokens_per_expert[static_cast<size_t>(e)]; ++i, ++row) {
      const int64_t t = token[row].item<int64_t>();
      const at::Tensor h = expert_activation(kind, x.narrow(0, t, 1).mm(w1[e]));  // [1, F]
      out.narrow(0, t, 1).add_(h.mm(w2[e]) * weight[row].item<double>());
    }
  }
  return out;
}

}  // namespace switchyard::models::testing
