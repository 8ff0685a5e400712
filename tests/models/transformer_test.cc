#include <tuple>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include "models/transformer/attention.h"
#include "models/transformer/causal_attention.h"
#include "models/transformer/language_model.h"
#include "models/transformer/mlp.h"
#include "models/transformer/norm.h"
#include "models/transformer/sampling.h"

namespace switchyard::models {
namespace {

LanguageModelOptions tiny(bool rotary, NormKind norm = NormKind::kLayerNorm) {
  LanguageModelOptions o;
  o.vocab_size = 32;
  o.hidden_size = 16;
  o.num_layers = 2;
  o.num_heads = 2;
  o.seq_length = 12;
  o.ffn_hidden_size = 32;
  o.rotary = rotary;
  o.norm = norm;
  return o;
}

TEST(Norm, RmsNormMatchesFormula) {
  Norm n(NormKind::kRmsNorm, 4);
  const at::Tensor x = at::randn({3, 4});
  const at::Tensor expected = x / at::sqrt(x.pow(2).mean(-1, true) + 1e-5);
  EXPECT_TRUE(at::allclose(n(x), expected, 1e-5, 1e-6));
}

TEST(Norm, LayerNormHasZeroMeanUnitVariance) {
  Norm n(NormKind::kLayerNorm, 8);
  const at::Tensor y = n(at::randn({5, 8}) * 3 + 1);
  EXPECT_TRUE(at::allclose(y.mean(-1), at::zeros({5}), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(y.var(-1, /*unbiased=*/false), at::ones({5}), 1e-3, 1e-3));
}

TEST(Rotary, PreservesNormsAndDependsOnlyOnRelativePosition) {
  const int64_t s = 6, d = 8;
  const at::Tensor inv = at::pow(10000.0, -at::arange(0, d, 2, at::kFloat) / d);
  const at::Tensor ang = at::outer(at::arange(s, at::kFloat), inv);
  const at::Tensor q = at::randn({1, 1, 1, d}).expand({1, 1, s, d}).contiguous();
  const at::Tensor k = at::randn({1, 1, 1, d}).expand({1, 1, s, d}).contiguous();
  const at::Tensor rq = apply_rotary(q, ang.cos(), ang.sin());
  const at::Tensor rk = apply_rotary(k, ang.cos(), ang.sin());
  EXPECT_TRUE(at::allclose(rq.norm(2, -1), q.norm(2, -1), 1e-5, 1e-5));
  // <R_m q, R_n k> is a function of m - n only.
  const auto dot = [&](int m, int n) { return (rq[0][0][m] * rk[0][0][n]).sum().item<float>(); };
  EXPECT_NEAR(dot(3, 1), dot(5, 3), 1e-4);
  EXPECT_NEAR(dot(2, 2), dot(0, 0), 1e-4);
}

class Causality : public ::testing::TestWithParam<bool> {};

TEST_P(Causality, FutureTokensDoNotChangePastLogits) {
  at::manual_seed(1);
  LanguageModel model(tiny(GetParam()));
  at::Tensor a = at::randint(32, {2, 12}, at::kLong);
  at::Tensor b = a.clone();
  b.select(1, 7).fill_(5);
  b.select(1, 9).fill_(6);
  a.select(1, 7).fill_(11);
  const at::Tensor la = model(a);
  const at::Tensor lb = model(b);
  ASSERT_EQ(la.sizes(), (std::vector<int64_t>{2, 12, 32}));
  EXPECT_TRUE(at::equal(la.slice(1, 0, 7), lb.slice(1, 0, 7)));
  EXPECT_FALSE(at::allclose(la.slice(1, 7), lb.slice(1, 7)));
}

INSTANTIATE_TEST_SUITE_P(LearnedAndRotary, Causality, ::testing::Bool());

// The fused attention kernel (causal_attention.h) against the generic path (model.kernels GENERIC:
// at::scaled_dot_product_attention, the code a GPU runs): same
// weights, same input, outputs and every gradient (input, QKV and output projections), in float64
// (tight) and float32, with a sequence shorter than the maximum, heads of odd size, and rotary
// position embeddings.
class FusedAttention : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(FusedAttention, MatchesTheComposedVersionInValuesAndGradients) {
  const at::ScalarType dtype = GetParam();
  const double tolerance = dtype == at::kDouble ? 1e-12 : 1e-5;
  for (const auto& [hidden, heads, seq, rotary] :
       {std::tuple<int64_t, int64_t, int64_t, bool>{16, 2, 12, false},
        {15, 5, 7, false},
        {32, 4, 1, false},
        {16, 2, 12, true},
        {24, 3, 9, true}}) {
    SCOPED_TRACE(::testing::Message() << hidden << " " << heads << " " << seq << " " << rotary);
    AttentionOptions o;
    o.hidden_size = hidden;
    o.num_heads = heads;
    o.max_seq_length = 12;
    o.rotary = rotary;
    at::manual_seed(3);
    CausalSelfAttention fused(o);
    o.fused = false;
    CausalSelfAttention composed(o);
    fused->to(dtype);
    composed->to(dtype);
    {
      at::NoGradGuard no_grad;
      for (auto& item : composed->named_parameters()) {
        item.value().copy_(fused->named_parameters()[item.key()]);
      }
    }
    at::Tensor x = at::randn({3, seq, hidden}, at::TensorOptions().dtype(dtype));
    at::Tensor x1 = x.clone().requires_grad_(true);
    at::Tensor x2 = x.clone().requires_grad_(true);
    at::Tensor g = at::randn({3, seq, hidden}, at::TensorOptions().dtype(dtype));
    at::Tensor y1 = fused->forward(x1);
    at::Tensor y2 = composed->forward(x2);
    EXPECT_LT((y1 - y2).abs().max().item<double>(), tolerance);
    (y1 * g).sum().backward();
    (y2 * g).sum().backward();
    EXPECT_LT((x1.grad() - x2.grad()).abs().max().item<double>(), tolerance);
    for (auto& item : fused->named_parameters()) {
      const at::Tensor other = composed->named_parameters()[item.key()].grad();
      EXPECT_LT((item.value().grad() - other).abs().max().item<double>(), tolerance) << item.key();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedAttention, ::testing::Values(at::kDouble, at::kFloat));

TEST(FusedAttention, GradientMatchesFiniteDifferences) {
  // float64 central differences through the fused kernel alone, on a few random coordinates.
  at::manual_seed(4);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor qkv = at::randn({2, 5, 3 * 6}, opts).requires_grad_(true);  // [B, S, 3H], 3 heads
  at::Tensor g = at::randn({2, 5, 6}, opts);
  (causal_attention(qkv, 3) * g).sum().backward();
  at::NoGradGuard no_grad;
  const double h = 1e-6;
  for (int64_t flat : {0, 7, 19, 40, 77, 101, 150, 179}) {
    at::Tensor plus = qkv.detach().clone();
    at::Tensor minus = qkv.detach().clone();
    plus.view(-1)[flat] += h;
    minus.view(-1)[flat] -= h;
    const double numeric =
        ((causal_attention(plus, 3) * g).sum() - (causal_attention(minus, 3) * g).sum())
            .item<double>() /
        (2 * h);
    EXPECT_NEAR(qkv.grad().view(-1)[flat].item<double>(), numeric, 1e-7) << flat;
  }
}

TEST(LanguageModel, TiedHeadSharesTheEmbedding) {
  LanguageModel tied(tiny(false));
  LanguageModelOptions o = tiny(false);
  o.tie_embeddings = false;
  LanguageModel untied(o);
  EXPECT_EQ(untied->parameters().size(), tied->parameters().size() + 1);
  const at::Tensor loss = tied(at::randint(32, {1, 4}, at::kLong)).sum();
  loss.backward();
  EXPECT_TRUE(tied->named_parameters()["token_embedding.weight"].grad().defined());
}

TEST(LanguageModel, FactoryPlacesCustomFeedForward) {
  int calls = 0;
  LanguageModel model(tiny(false), [&](int64_t layer) -> std::shared_ptr<FeedForward> {
    ++calls;
    if (layer != 1) return nullptr;
    return DenseMlp(16, 7, 0.0).ptr();  // recognisable width
  });
  EXPECT_EQ(calls, 2);
  const auto params = model->named_parameters();
  EXPECT_EQ(params["blocks.1.ffn.up.weight"].size(0), 7);
  EXPECT_EQ(params["blocks.0.ffn.up.weight"].size(0), 32);
}

TEST(LanguageModel, FactoryModulesKeepTheirOwnInitialization) {
  LanguageModel model(tiny(false), [&](int64_t layer) -> std::shared_ptr<FeedForward> {
    DenseMlp mlp(16, 8, 0.0);
    torch::NoGradGuard no_grad;
    for (auto& p : mlp->parameters()) p.fill_(0.25);
    return mlp.ptr();
  });
  for (const auto& item : model->named_parameters()) {
    if (item.key().find(".ffn.") == std::string::npos) continue;
    EXPECT_TRUE(at::all(item.value() == 0.25).item<bool>()) << item.key();
  }
}

TEST(LanguageModel, LearnsARepeatingSequence) {
  at::manual_seed(0);
  LanguageModel model(tiny(true, NormKind::kRmsNorm));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  const at::Tensor seq = at::arange(13, at::kLong).remainder(5).unsqueeze(0);  // 0 1 2 3 4 0 ...
  const at::Tensor x = seq.slice(1, 0, 12), y = seq.slice(1, 1, 13);
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const at::Tensor loss = at::cross_entropy_loss(model(x).reshape({-1, 32}), y.reshape({-1}));
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_GT(first, 3.0);  // ~log(32) = 3.47 at initialization
  EXPECT_LT(last, 0.1);
}

TEST(Sampling, GreedyIsDeterministicAndSeededSamplingRepeats) {
  at::manual_seed(3);
  LanguageModel model(tiny(false));
  model->train();
  SamplingOptions greedy;
  greedy.max_new_tokens = 20;  // longer than seq_length: the context is cropped
  greedy.temperature = 0;
  const auto a = generate(model, {1, 2, 3}, greedy, at::make_generator<at::CPUGeneratorImpl>(1));
  const auto b = generate(model, {1, 2, 3}, greedy, at::make_generator<at::CPUGeneratorImpl>(2));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 23u);
  EXPECT_TRUE(model->is_training());
  SamplingOptions sample;
  sample.max_new_tokens = 30;
  const auto s1 = generate(model, {1}, sample, at::make_generator<at::CPUGeneratorImpl>(7));
  const auto s2 = generate(model, {1}, sample, at::make_generator<at::CPUGeneratorImpl>(7));
  EXPECT_EQ(s1, s2);
  for (int64_t t : s1) {
    EXPECT_GE(t, 0);
    EXPECT_LT(t, 32);
  }
}

}  // namespace
}  // namespace switchyard::models
