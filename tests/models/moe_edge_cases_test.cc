// MoE edge cases in one process (issue 18, item 5), for every router kind with the local
// dispatcher: zero tokens, idle experts, every token routed to one expert, a batch of one
// sequence (and of one token), a capacity so low that everything (or all but one row per expert)
// drops, and NaN / inf router inputs. Every case checks the output against a row-by-row oracle of
// the layer's own plan, that experts which received no rows have gradients of exactly 0, and
// what the case itself says (who was routed where, what was dropped). The distributed
// dispatchers at EP 1-8: moe_edge_cases_mpi_test.cc.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/moe_builder.h"
#include "tests/models/moe_edge_case_util.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::all_finite;
using testing::bias_for;
using testing::edge_options;
using testing::edge_router_kinds;
using testing::edge_token_ids;
using testing::expect_idle_experts_zero;
using testing::experts_choose;
using testing::force_feature;
using testing::force_routing;
using testing::kForce;
using testing::kInf;
using testing::kNaN;
using testing::make_tokens;
using testing::max_abs;
using testing::oracle_output;
using testing::relative_error;
using testing::with_rows;

constexpr int64_t kExperts = 8;
constexpr int64_t kTokens = 24;
constexpr double kTolerance = 1e-6;

struct LayerRun {
  std::shared_ptr<AuxLossCollector> aux = std::make_shared<AuxLossCollector>();
  MoELayer layer = nullptr;
  at::Tensor output;  // [T, H]
  at::Tensor input_grad;
};

// One training forward (step 5) and backward of sum(output * g) + the aux losses; `bias` forces
// the routing (force_routing) when not empty; `aux_only` backpropagates the aux losses alone.
LayerRun run_layer(const MoEBuildOptions& o,
                   const at::Tensor& x,
                   const std::vector<double>& bias = {},
                   bool aux_only = false) {
  LayerRun r;
  r.layer = build_moe_layer(o, MoEParallel{}, r.aux.get());
  if (!bias.empty()) force_routing(r.layer->router(), bias);
  const int64_t hidden = x.size(-1);
  const int64_t tokens = x.numel() / hidden;
  const at::Tensor input = x.clone().requires_grad_();
  MoEForwardArgs args;
  args.step = 5;
  args.token_ids = edge_token_ids(0, tokens);
  MoEOutput out = r.layer->forward(input, args);
  EXPECT_EQ(out.output.sizes(), x.sizes());
  r.output = out.output.detach().reshape({tokens, hidden});
  const at::Tensor g = make_tokens(tokens, hidden, 18).view(x.sizes());
  at::Tensor loss = r.aux->weighted_sum();
  if (!aux_only) loss = loss + (out.output * g).sum();
  loss.backward();
  r.input_grad = input.grad();
  return r;
}

// Kept rows per expert of the run's plan (local layer: all experts are local).
std::vector<int64_t> received(const LayerRun& r) { return r.layer->last_plan().tokens_per_expert; }

// Per expert: whether it received a row of a token with a non-finite input (bad[t]).
std::vector<bool> received_bad(const LayerRun& r, const at::Tensor& bad) {
  const DispatchPlan& plan = r.layer->last_plan();
  std::vector<bool> out(static_cast<size_t>(plan.num_experts), false);
  const at::Tensor bad_row = bad.index_select(0, plan.token_index);  // [N]
  int64_t row = 0;
  for (int64_t e = 0; e < plan.num_experts; ++e) {
    const int64_t n = plan.tokens_per_expert[static_cast<size_t>(e)];
    if (n > 0) out[static_cast<size_t>(e)] = bad_row.narrow(0, row, n).any().item<bool>();
    row += n;
  }
  return out;
}

void expect_matches_oracle(LayerRun& r, const at::Tensor& x, const MoEBuildOptions& o) {
  const at::Tensor expected = oracle_output(r.layer, x.reshape({-1, x.size(-1)}), o.experts.kind);
  if (max_abs(expected) == 0.0) {
    EXPECT_EQ(max_abs(r.output), 0.0) << "every assignment dropped: the output must be 0";
  } else {
    EXPECT_LT(relative_error(r.output, expected), kTolerance) << "output vs row-by-row oracle";
  }
}

// a == b up to summation order; exactly 0 where b is.
void expect_same_gradient(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  if (max_abs(b) == 0.0) {
    EXPECT_EQ(max_abs(a), 0.0) << what;
  } else {
    EXPECT_LT(relative_error(a, b), kTolerance) << what;
  }
}

// Kept rows of expert `e` when every token picks it first and capacity factor 1 applies.
int64_t capacity_of_forced_expert(const std::string& kind, const MoEBuildOptions& o) {
  if (kind == "stablemoe") return kTokens / kExperts;                   // int(cf T / E)
  if (kind == "smile") return (kTokens + kExperts - 1) / kExperts;      // ceil(cf T_node / M)
  return (kTokens * o.layer.capacity.top_k + kExperts - 1) / kExperts;  // ceil(cf T k / E)
}

TEST(MoEEdgeCases, ZeroTokensGiveEmptyOutputAndExactlyZeroGradients) {
  for (const std::string& kind : edge_router_kinds()) {
    for (double cf : {0.0, 1.0}) {
      SCOPED_TRACE(kind + (cf > 0 ? " capacity" : " dropless"));
      const MoEBuildOptions o = edge_options(kind, kExperts, cf);
      LayerRun r = run_layer(o, at::zeros({0, o.layer.hidden_size}));
      EXPECT_EQ(r.output.size(0), 0);
      EXPECT_TRUE(all_finite(r.aux->weighted_sum()));
      expect_idle_experts_zero(r.layer, received(r), true);
      // Nothing was routed: every parameter's gradient is exactly 0 (or absent).
      for (const auto& p : r.layer->named_parameters()) {
        if (p.value().grad().defined()) EXPECT_EQ(max_abs(p.value().grad()), 0.0) << p.key();
      }
      EXPECT_EQ(r.layer->last_stats().dropped_fraction, 0.0);
    }
  }
}

TEST(MoEEdgeCases, ExpertsNobodyChoosesGetExactlyZeroGradients) {
  // Experts 4-7 (a whole rank's experts at EP 2) get logit bias -30: no token picks them.
  const std::vector<double> bias = bias_for(kExperts, {4, 5, 6, 7}, -kForce);
  for (const std::string& kind : edge_router_kinds()) {
    if (experts_choose(kind)) continue;  // every expert takes its share of the group
    for (double cf : {0.0, 1.0}) {
      SCOPED_TRACE(kind + (cf > 0 ? " capacity" : " dropless"));
      const MoEBuildOptions o = edge_options(kind, kExperts, cf);
      const at::Tensor x = force_feature(make_tokens(kTokens, o.layer.hidden_size, 17));
      LayerRun r = run_layer(o, x, bias);
      const std::vector<int64_t> selected = r.layer->last_plan().selected_per_expert;
      for (int64_t e = 4; e < kExperts; ++e) EXPECT_EQ(selected[static_cast<size_t>(e)], 0) << e;
      int64_t busy = 0;
      for (int64_t e = 0; e < 4; ++e) busy += received(r)[static_cast<size_t>(e)] > 0;
      EXPECT_GE(busy, 1);
      EXPECT_TRUE(all_finite(r.output));
      expect_matches_oracle(r, x, o);
      expect_idle_experts_zero(r.layer, received(r), true);
      EXPECT_TRUE(all_finite(r.input_grad));
    }
  }
}

TEST(MoEEdgeCases, EveryTokenRoutedToOneExpert) {
  constexpr int64_t kTarget = 2;
  const std::vector<double> bias = bias_for(kExperts, {kTarget}, kForce);
  for (const std::string& kind : edge_router_kinds()) {
    for (double cf : {0.0, 1.0}) {
      SCOPED_TRACE(kind + (cf > 0 ? " capacity" : " dropless"));
      const MoEBuildOptions o = edge_options(kind, kExperts, cf);
      const at::Tensor x = force_feature(make_tokens(kTokens, o.layer.hidden_size, 17));
      LayerRun r = run_layer(o, x, bias);
      const std::vector<int64_t> kept = received(r);
      if (!experts_choose(kind)) {
        // The first choice of every token is the target.
        // (StableMoE and SMILE mark the assignments their own capacity drops with -1.)
        const at::Tensor first = r.layer->last_routing().expert_ids.select(1, 0);
        EXPECT_TRUE((first.eq(kTarget) | first.eq(-1)).all().item<bool>());
        if (cf == 0.0) EXPECT_TRUE(first.eq(kTarget).all().item<bool>());
        EXPECT_EQ(kept[kTarget], cf > 0 ? capacity_of_forced_expert(kind, o) : kTokens);
      }
      EXPECT_TRUE(all_finite(r.output));
      expect_matches_oracle(r, x, o);
      expect_idle_experts_zero(r.layer, kept, true);
      EXPECT_TRUE(all_finite(r.input_grad));
      if (cf > 0 && !experts_choose(kind)) {
        // Tokens past the target's capacity that had no other kept choice: output exactly 0.
        const at::Tensor keep = r.layer->last_plan().keep;  // [T, K]
        const at::Tensor none = keep.logical_not().all(1);  // [T]
        if (r.layer->last_routing().expert_ids.size(1) == 1) {
          EXPECT_GT(none.sum().item<int64_t>(), 0);  // one slot: past the capacity = none kept
        }
        EXPECT_EQ(max_abs(r.output.index_select(0, none.nonzero().view({-1}))), 0.0);
      }
    }
  }
}

TEST(MoEEdgeCases, CapacitySoLowThatEverythingDrops) {
  for (const std::string& kind : edge_router_kinds()) {
    SCOPED_TRACE(kind);
    // cf = 1e-12: capacity ceil(cf T k / E) = 0 (StableMoE int(cf T / E) = 0, SMILE ceil(cf T) =
    // 0 at level 1): every assignment drops.
    const MoEBuildOptions o = edge_options(kind, kExperts, 1e-12);
    const at::Tensor x = make_tokens(kTokens, o.layer.hidden_size, 17);
    LayerRun r = run_layer(o, x);
    for (int64_t n : received(r)) EXPECT_EQ(n, 0);
    EXPECT_FALSE(r.layer->last_plan().keep.any().item<bool>());
    // A dropped assignment contributes 0: the output is exactly 0 (the residual carries x).
    EXPECT_EQ(max_abs(r.output), 0.0);
    expect_idle_experts_zero(r.layer, received(r), true);
    // The task loss reaches nothing: every gradient is what the aux losses alone give (an
    // absent gradient counts as 0; the summation order may differ, hence the tolerance).
    LayerRun aux_only = run_layer(o, x, {}, /*aux_only=*/true);
    auto grads = aux_only.layer->named_parameters();
    auto or_zero = [](const at::Tensor& grad, const at::Tensor& p) {
      return grad.defined() ? grad : at::zeros_like(p);
    };
    for (const auto& p : r.layer->named_parameters()) {
      const at::Tensor a = or_zero(p.value().grad(), p.value());
      const at::Tensor b = or_zero(grads[p.key()].grad(), p.value());
      expect_same_gradient(a, b, p.key());
    }
    expect_same_gradient(r.input_grad, or_zero(aux_only.input_grad, x), "input");

    // cf = 1e-6: capacity 1 per expert (StableMoE: 0; SMILE: 1 token through level 1).
    const MoEBuildOptions one = edge_options(kind, kExperts, 1e-6);
    LayerRun nearly = run_layer(one, x);
    const std::vector<int64_t> selected = nearly.layer->last_plan().selected_per_expert;
    int64_t kept = 0;
    for (int64_t e = 0; e < kExperts; ++e) {
      const int64_t n = received(nearly)[static_cast<size_t>(e)];
      EXPECT_LE(n, 1) << "expert " << e;
      if (kind != "stablemoe" && kind != "smile") {
        EXPECT_EQ(n, std::min<int64_t>(1, selected[static_cast<size_t>(e)])) << "expert " << e;
      }
      kept += n;
    }
    EXPECT_LE(kept, kExperts);
    EXPECT_TRUE(all_finite(nearly.output));
    expect_matches_oracle(nearly, x, one);
    expect_idle_experts_zero(nearly.layer, received(nearly), true);
  }
}

TEST(MoEEdgeCases, BatchOfOneSequenceAndOfOneToken) {
  for (const std::string& kind : edge_router_kinds()) {
    for (double cf : {0.0, 1.0}) {
      for (bool independent : {false, true}) {
        for (int64_t seq : {8, 1}) {
          SCOPED_TRACE(kind + (cf > 0 ? " capacity" : " dropless") +
                       (independent ? " batch-independent" : "") + " S=" + std::to_string(seq));
          MoEBuildOptions o = edge_options(kind, kExperts, cf);
          o.layer.batch_independent = independent;
          o.layer.seq_len = seq;
          o.router.expert_choice.seq_len = seq;
          const at::Tensor x = make_tokens(seq, o.layer.hidden_size, 19).view({1, seq, -1});
          LayerRun r = run_layer(o, x);
          EXPECT_TRUE(all_finite(r.output));
          EXPECT_TRUE(all_finite(r.input_grad));
          expect_matches_oracle(r, x, o);
          expect_idle_experts_zero(r.layer, received(r), true);
          // One token with k slots uses at most k experts: the others are idle.
          if (seq == 1 && !experts_choose(kind)) {
            int64_t busy = 0;
            for (int64_t n : received(r)) busy += n > 0;
            EXPECT_LE(busy, r.layer->last_routing().expert_ids.size(1));
          }
        }
      }
    }
  }
}

// Routers whose decision for a token depends on that token alone (no per-group selection or
// capacity): with dropless dispatch, the other tokens' outputs are those of a clean batch.
bool per_token(const std::string& kind, double cf) { return cf == 0.0 && !experts_choose(kind); }

TEST(MoEEdgeCases, NonFiniteRouterInputs) {
  for (const std::string& kind : edge_router_kinds()) {
    for (double cf : {0.0, 1.0}) {
      for (double value : {kNaN, kInf, -kInf}) {
        SCOPED_TRACE(kind + (cf > 0 ? " capacity" : " dropless") + " value " +
                     std::to_string(value));
        const MoEBuildOptions o = edge_options(kind, kExperts, cf);
        const at::Tensor clean = make_tokens(kTokens, o.layer.hidden_size, 17);
        LayerRun reference = run_layer(o, clean);

        // The first 4 tokens non-finite: the others' outputs stay finite (exactly the clean
        // ones where routing is per token); experts that saw only finite tokens have finite
        // gradients, idle experts exactly 0.
        const at::Tensor x = with_rows(clean, 0, 4, value);
        LayerRun r = run_layer(o, x);
        const at::Tensor bad = at::arange(kTokens, at::kLong).lt(4);
        EXPECT_TRUE(all_finite(r.output.narrow(0, 4, kTokens - 4)));
        if (per_token(kind, cf)) {
          EXPECT_LT(relative_error(r.output.narrow(0, 4, kTokens - 4),
                                   reference.output.narrow(0, 4, kTokens - 4)),
                    kTolerance);
        }
        const std::vector<bool> saw_bad = received_bad(r, bad);
        const at::Tensor g1 = r.layer->experts().w1().grad();
        for (int64_t e = 0; e < kExperts; ++e) {
          if (received(r)[static_cast<size_t>(e)] > 0 && !saw_bad[static_cast<size_t>(e)]) {
            EXPECT_TRUE(all_finite(g1.select(0, e))) << "expert " << e << " saw finite rows only";
          }
        }
        expect_idle_experts_zero(r.layer, received(r), false);

        // Every token non-finite: no failure, idle experts exactly 0.
        LayerRun all = run_layer(o, with_rows(clean, 0, kTokens, value));
        EXPECT_EQ(all.output.size(0), kTokens);
        expect_idle_experts_zero(all.layer, received(all), false);
      }
    }
  }
}

}  // namespace
}  // namespace switchyard::models
