// The MoE layer: dropless == large-capacity, zero tokens, routing groups of the reference path,
// stats, aux-loss collection, aux-loss-free bias, the builder, and the cross-batch attack of
// "Buffer Overflow in Mixture of Experts" (Hayes et al., arXiv 2402.05526) with its mitigation.
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/config/experiment.pb.h"
#include "core/errors.h"
#include "models/moe/moe_builder.h"
#include "models/moe/routers/topk_router.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::LayerSpec;
using testing::make_local_layer;
using testing::make_tokens;
using testing::relative_error;

struct RunResult {
  at::Tensor output;
  std::vector<at::Tensor> grads;  // parameter gradients in named_parameters order
  RoutingStats stats;
  at::Tensor expert_ids;
};

RunResult run(MoELayer& layer,
              AuxLossCollector& aux,
              const at::Tensor& x,
              const MoEForwardArgs& args = {}) {
  layer->zero_grad();
  aux.clear();
  MoEOutput out = layer->forward(x, args);
  at::Tensor g = make_tokens(x.numel() / x.size(-1), x.size(-1), 42).view(x.sizes());
  ((out.output * g).sum() + aux.weighted_sum()).backward();
  RunResult r{out.output.detach(), {}, out.stats, layer->last_routing().expert_ids};
  for (auto& p : layer->parameters()) {
    r.grads.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
  }
  return r;
}

const std::vector<std::string> kRouters = {"top_k", "gshard", "expert_choice"};

LayerSpec spec_for(const std::string& router) {
  LayerSpec s;
  s.router = router;
  if (router == "expert_choice") s.top_k = 2;
  return s;
}

TEST(MoELayer, DroplessEqualsCapacityModeThatDropsNothing) {
  for (const std::string& router : kRouters) {
    for (DropPolicy policy : {DropPolicy::kPosition, DropPolicy::kProbs, DropPolicy::kRandom}) {
      SCOPED_TRACE(router);
      LayerSpec s = spec_for(router);
      AuxLossCollector aux_a;
      AuxLossCollector aux_b;
      MoELayer dropless = make_local_layer(s, &aux_a);
      s.capacity_factor = 100.0;
      s.drop_policy = policy;
      MoELayer capacity = make_local_layer(s, &aux_b);
      at::Tensor x = make_tokens(24, s.hidden, 7);
      RunResult a = run(dropless, aux_a, x);
      RunResult b = run(capacity, aux_b, x);
      EXPECT_EQ(b.stats.dropped_fraction, 0.0);
      EXPECT_TRUE(at::equal(a.output, b.output));
      ASSERT_EQ(a.grads.size(), b.grads.size());
      for (size_t i = 0; i < a.grads.size(); ++i) EXPECT_TRUE(at::equal(a.grads[i], b.grads[i]));
    }
  }
}

TEST(MoELayer, BatchedEqualsSequentialExpertsInTheLayer) {
  for (ExpertKind kind : {ExpertKind::kGeluMlp, ExpertKind::kSwiGlu}) {
    LayerSpec s;
    s.expert_kind = kind;
    s.capacity_factor = 1.0;
    AuxLossCollector aux_a;
    AuxLossCollector aux_b;
    MoELayer batched = make_local_layer(s, &aux_a);
    s.compute = ExpertCompute::kSequential;
    MoELayer sequential = make_local_layer(s, &aux_b);
    at::Tensor x = make_tokens(20, s.hidden, 8);
    RunResult a = run(batched, aux_a, x);
    RunResult b = run(sequential, aux_b, x);
    EXPECT_LT(relative_error(a.output, b.output), 1e-6);
    for (size_t i = 0; i < a.grads.size(); ++i)
      EXPECT_LT(relative_error(a.grads[i], b.grads[i]), 1e-6);
  }
}

TEST(MoELayer, ZeroTokensToAnExpertAndZeroLocalTokens) {
  for (const std::string& router : kRouters) {
    for (double cf : {0.0, 1.0}) {
      SCOPED_TRACE(router + " cf=" + std::to_string(cf));
      LayerSpec s = spec_for(router);
      s.experts = 8;
      AuxLossCollector aux;
      MoELayer layer = make_local_layer(s, &aux);
      // Two tokens: at most 4 of 8 experts can be used (top-2) -> some expert gets none.
      RunResult two = run(layer, aux, make_tokens(2, s.hidden, 3));
      int64_t idle = 0;
      for (int64_t c : two.stats.kept_per_expert) idle += c == 0;
      if (router != "expert_choice") EXPECT_GE(idle, 4);  // expert choice: every expert busy
      EXPECT_TRUE(at::isfinite(two.output).all().item<bool>());
      RunResult none = run(layer, aux, at::zeros({0, s.hidden}));
      EXPECT_EQ(none.output.size(0), 0);
      for (const auto& g : none.grads) EXPECT_TRUE(at::isfinite(g).all().item<bool>());
    }
  }
}

TEST(MoELayer, ReferenceGroupsEqualSeparateRuns) {
  // Capacity per routing group: one call with group_sizes {10, 14} equals two calls.
  for (const std::string& router : {std::string("top_k"), std::string("expert_choice")}) {
    LayerSpec s = spec_for(router);
    s.capacity_factor = 0.75;
    AuxLossCollector aux;
    MoELayer layer = make_local_layer(s, &aux);
    layer->eval();
    at::Tensor x = make_tokens(24, s.hidden, 9);
    at::Tensor joint = layer->forward(x, {0, {10, 14}}).output;
    at::Tensor first = layer->forward(x.narrow(0, 0, 10)).output;
    at::Tensor second = layer->forward(x.narrow(0, 10, 14)).output;
    EXPECT_LT(relative_error(joint, at::cat({first, second})), 1e-6) << router;
    EXPECT_GT(layer->forward(x).stats.num_tokens, 0);
  }
}

TEST(MoELayer, StatsAndAuxLosses) {
  LayerSpec s;
  s.experts = 4;
  s.top_k = 2;
  s.capacity_factor = 0.5;
  s.router_init_std = 0.0;  // all logits 0: uniform scores
  AuxLossCollector aux;
  MoELayer layer = make_local_layer(s, &aux);
  MoEOutput out = layer->forward(make_tokens(16, s.hidden, 1));
  int64_t selected = 0;
  for (int64_t c : out.stats.tokens_per_expert) selected += c;
  EXPECT_EQ(selected, 32);
  EXPECT_NEAR(out.stats.router_entropy, std::log(4.0), 1e-6);
  EXPECT_NEAR(out.stats.mean_load, 8.0, 1e-12);
  EXPECT_GE(out.stats.max_load, out.stats.mean_load);
  EXPECT_GE(out.stats.coefficient_of_variation, 0.0);
  // C = ceil(0.5 * 32 / 4) = 4 per expert: at most 16 of 32 kept.
  EXPECT_GE(out.stats.dropped_fraction, 0.5);
  ASSERT_EQ(aux.entries().size(), 2u);
  EXPECT_EQ(aux.entries()[0].name, "load_balancing");
  EXPECT_EQ(aux.entries()[1].name, "z_loss");
  // Uniform scores: LB loss is exactly 1 whatever the counts are; z-loss = (ln 4)^2.
  EXPECT_NEAR(aux.entries()[0].value.item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(aux.entries()[1].value.item<double>(), std::log(4.0) * std::log(4.0), 1e-5);
  EXPECT_NEAR(aux.weighted_sum().item<double>(), 0.01 + 0.001 * std::log(4.0) * std::log(4.0),
              1e-6);
  EXPECT_NEAR(aux.summary().at("load_balancing"), 1.0, 1e-6);
}

TEST(MoELayer, SequenceAuxLossAndAuxFreeBias) {
  LayerSpec s;
  s.score = ScoreFunction::kSigmoid;
  s.expert_bias = true;
  s.lb = LoadBalancingLoss::kSequence;
  AuxLossCollector aux;
  MoELayer layer = make_local_layer(s, &aux);
  layer->forward(make_tokens(24, s.hidden, 2).view({3, 8, s.hidden}));
  ASSERT_EQ(aux.entries()[0].name, "seq_load_balancing");
  auto& router = dynamic_cast<TopKRouter&>(layer->router());
  layer->update_expert_bias(layer->last_plan().selected_per_expert);
  at::Tensor load = at::tensor(layer->last_plan().selected_per_expert, at::kFloat);
  EXPECT_TRUE(at::allclose(router.expert_bias(), at::sign(load.mean() - load) * 1e-3));
}

TEST(MoELayer, BuilderFromConfig) {
  config::MoELayerConfig c;
  c.set_num_experts(4);
  c.mutable_router()->set_kind(config::RouterConfig::GSHARD);
  c.mutable_dispatcher()->set_capacity_factor(1.25);
  c.mutable_dispatcher()->set_drop_policy(config::DispatcherConfig::PROBS);
  c.mutable_expert()->set_kind(config::ExpertConfig::SWIGLU);
  c.mutable_expert()->set_ffn_hidden_size(12);
  c.mutable_aux_loss()->set_z_loss_coeff(1e-3);
  MoEBuildOptions o = moe_options_from_config(c, 8, 4, 0, 1337);
  EXPECT_EQ(o.router.kind, "gshard");
  EXPECT_EQ(o.layer.capacity.drop_policy, DropPolicy::kProbs);
  EXPECT_EQ(o.experts.kind, ExpertKind::kSwiGlu);
  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(o, MoEParallel{}, &aux);
  EXPECT_EQ(layer->forward(make_tokens(8, 8, 1)).output.sizes(), (std::vector<int64_t>{8, 8}));
  c.mutable_router()->set_kind(config::RouterConfig::SMILE);
  EXPECT_EQ(moe_options_from_config(c, 8, 4, 0, 1, 2).router.kind, "smile");
  EXPECT_EQ(moe_options_from_config(c, 8, 4, 0, 1, 2).router.num_nodes, 2);
  c.mutable_router()->set_kind(config::RouterConfig::LOCMOE);
  EXPECT_EQ(moe_options_from_config(c, 8, 4, 0, 1).router.kind, "locmoe");
  c.mutable_router()->set_kind(config::RouterConfig::STABLEMOE);
  EXPECT_EQ(moe_options_from_config(c, 8, 4, 0, 1).router.kind, "stablemoe");
}

// ---- Cross-batch attack (ALGORITHMS.md §9) ------------------------------------------------

// Top-1 over 2 experts; the router sends x[0] > 0 to expert 0 and x[0] < 0 to expert 1.
MoELayer attack_layer(bool batch_independent, AuxLossCollector* aux) {
  LayerSpec s;
  s.hidden = 4;
  s.experts = 2;
  s.top_k = 1;
  s.normalize = false;
  s.capacity_factor = 1.0;
  s.drop_policy = DropPolicy::kPosition;
  s.batch_independent = batch_independent;
  MoELayer layer = make_local_layer(s, aux);
  at::NoGradGuard no_grad;
  at::Tensor w = layer->router().named_parameters()["weight"];
  w.zero_();
  w[0][0] = 5.0;
  w[1][0] = -5.0;
  layer->eval();
  return layer;
}

TEST(BufferOverflowAttack, WorksUnderPositionPriorityFailsWhenBatchIndependent) {
  // Victim A: 4 tokens, 2 to each expert. Attacker B: 4 tokens, all to expert 0, placed before A.
  at::Tensor victim = make_tokens(4, 4, 5).abs();
  victim[2][0] = -victim[2][0];
  victim[3][0] = -victim[3][0];
  at::Tensor attacker = make_tokens(4, 4, 6).abs();
  at::Tensor batch = at::stack({attacker, victim});  // [B=2, S=4, H=4]

  AuxLossCollector aux;
  MoELayer vulnerable = attack_layer(false, &aux);
  at::Tensor alone = vulnerable->forward(victim.unsqueeze(0)).output[0];  // C = 2: nothing dropped
  EXPECT_EQ(vulnerable->last_plan().num_dropped, 0);
  at::Tensor with_attacker = vulnerable->forward(batch).output[1];  // C = 4
  // Property 9.3.2: min(load_A, max(0, load_A + load_B - C)) = min(2, 2 + 4 - 4) = 2 drops of A.
  EXPECT_EQ(vulnerable->last_plan().num_dropped, 2);
  EXPECT_FALSE(at::allclose(alone, with_attacker));
  // The victim's expert-0 tokens were dropped: output zero (residual only); the others agree.
  EXPECT_TRUE(at::equal(with_attacker.narrow(0, 0, 2), at::zeros({2, 4})));
  EXPECT_TRUE(at::equal(with_attacker.narrow(0, 2, 2), alone.narrow(0, 2, 2)));

  MoELayer safe = attack_layer(true, &aux);
  at::Tensor safe_alone = safe->forward(victim.unsqueeze(0)).output[0];
  const at::Tensor keep_alone = safe->last_plan().keep.clone();  // [4, K]
  at::Tensor safe_batched = safe->forward(batch).output[1];
  // The victim's routing and drops are exactly those it gets alone; its outputs agree to
  // rounding (the expert GEMMs see more rows in the batch, and a BLAS may round differently
  // for another row count: MKL does, OpenBLAS did not).
  EXPECT_TRUE(at::equal(safe->last_plan().keep.narrow(0, 4, 4), keep_alone));
  EXPECT_TRUE(at::allclose(safe_alone, safe_batched, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(safe_alone, alone, 1e-6, 1e-7));
}

TEST(BufferOverflowAttack, DroplessAndBatchIndependentExpertChoiceAreBatchInvariant) {
  at::Tensor a = make_tokens(6, 16, 1);
  at::Tensor b = make_tokens(6, 16, 2);
  for (const std::string& router : kRouters) {
    LayerSpec s = spec_for(router);
    s.batch_independent = router == "expert_choice";
    AuxLossCollector aux;
    MoELayer layer = make_local_layer(s, &aux);
    layer->eval();
    at::Tensor alone = layer->forward(a.unsqueeze(0)).output[0];
    at::Tensor batched = layer->forward(at::stack({b, a})).output[1];
    EXPECT_LT(relative_error(alone, batched), 1e-6) << router;
  }
}

}  // namespace
}  // namespace switchyard::models
