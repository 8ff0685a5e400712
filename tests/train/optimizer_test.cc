// The fused AdamW (train/optimizer.h) against LibTorch's torch::optim::AdamW as the reference:
// same parameters, gradients, learning-rate changes and clip factors, step by step, with the two
// weight-decay groups; frozen parameters; state round trip.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include "train/optimizer.h"

namespace switchyard::train {
namespace {

double max_relative_error(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor da = a.detach().to(at::kDouble);
  at::Tensor db = b.detach().to(at::kDouble);
  return ((da - db).abs() / db.abs().clamp_min(1e-3)).max().item<double>();
}

// (dtype, fused CPU loop or the generic ATen update): both paths against LibTorch's AdamW, hence
// against each other (model.kernels FUSED_CPU vs GENERIC).
class AdamWAgainstLibTorch : public ::testing::TestWithParam<std::tuple<at::ScalarType, bool>> {};

TEST_P(AdamWAgainstLibTorch, TwentyStepsWithDecayGroupsScheduleAndClipFactor) {
  const at::ScalarType dtype = std::get<0>(GetParam());
  const auto opts = at::TensorOptions().dtype(dtype);
  at::manual_seed(5);
  const at::Tensor w0 = at::randn({7, 5}, opts);
  const at::Tensor b0 = at::randn({5}, opts);
  // Ours.
  at::Tensor w = w0.clone().requires_grad_(true);
  at::Tensor b = b0.clone().requires_grad_(true);
  OptimizerOptions o;
  o.learning_rate = 3e-3;
  o.weight_decay = 0.1;
  o.fused_cpu = std::get<1>(GetParam());
  Optimizer ours({{"w", w}, {"b", b}}, o);
  // Reference: LibTorch's AdamW with the same two groups.
  at::Tensor rw = w0.clone().requires_grad_(true);
  at::Tensor rb = b0.clone().requires_grad_(true);
  auto group_options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.learning_rate)
                                                            .betas({o.beta1, o.beta2})
                                                            .eps(o.epsilon)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{rw}, group_options(o.weight_decay));
  groups.emplace_back(std::vector<at::Tensor>{rb}, group_options(0.0));
  torch::optim::AdamW reference(std::move(groups), torch::optim::AdamWOptions(o.learning_rate));

  const double tolerance = dtype == at::kDouble ? 1e-12 : 2e-6;
  for (int step = 0; step < 20; ++step) {
    const double lr = 3e-3 * (1.0 - step / 40.0);
    const double scale = step % 3 == 0 ? 0.25 : 1.0;  // a clip factor on some steps
    ours.set_learning_rate(lr);
    for (auto& group : reference.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    const at::Tensor gw = at::randn({7, 5}, opts);
    const at::Tensor gb = at::randn({5}, opts) * 1e-3;  // small gradients: eps matters
    w.mutable_grad() = gw.clone();
    b.mutable_grad() = gb.clone();
    rw.mutable_grad() = gw * scale;
    rb.mutable_grad() = gb * scale;
    ours.step(scale);
    reference.step();
    ASSERT_LT(max_relative_error(w, rw), tolerance) << "step " << step;
    ASSERT_LT(max_relative_error(b, rb), tolerance) << "step " << step;
  }
  // The moments match too, and the step count is per parameter.
  const auto state = ours.state();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state.at("w").step, 20);
  const auto& ref_state = static_cast<const torch::optim::AdamWParamState&>(
      *reference.state().at(rw.unsafeGetTensorImpl()));
  EXPECT_LT(max_relative_error(state.at("w").exp_avg, ref_state.exp_avg()), tolerance * 10);
  EXPECT_LT(max_relative_error(state.at("w").exp_avg_sq, ref_state.exp_avg_sq()), tolerance * 10);
  // The bias had no weight decay: with decay its trajectory would differ.
  EXPECT_FALSE(at::allclose(b, b0));
}

INSTANTIATE_TEST_SUITE_P(DtypesAndPaths,
                         AdamWAgainstLibTorch,
                         ::testing::Combine(::testing::Values(at::kFloat, at::kDouble),
                                            ::testing::Bool()));

// The two paths after 20 identical steps: equal to rounding.
TEST(Optimizer, GenericUpdateEqualsTheFusedLoop) {
  at::manual_seed(9);
  const at::Tensor w0 = at::randn({33, 17});
  at::Tensor a = w0.clone().requires_grad_(true);
  at::Tensor b = w0.clone().requires_grad_(true);
  OptimizerOptions fused;
  OptimizerOptions generic;
  generic.fused_cpu = false;
  Optimizer fa({{"w", a}}, fused);
  Optimizer gb({{"w", b}}, generic);
  for (int step = 0; step < 20; ++step) {
    const at::Tensor g = at::randn({33, 17});
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    fa.step(step % 4 == 0 ? 0.5 : 1.0);
    gb.step(step % 4 == 0 ? 0.5 : 1.0);
  }
  EXPECT_LT(max_relative_error(a, b), 2e-6);
  EXPECT_LT(max_relative_error(fa.state().at("w").exp_avg_sq, gb.state().at("w").exp_avg_sq), 2e-6);
  EXPECT_FALSE(at::equal(a, w0));
}

TEST(Optimizer, FrozenParametersAndTheirMomentsDoNotMove) {
  at::Tensor a = at::ones({3, 3}).requires_grad_(true);
  at::Tensor frozen = at::ones({3, 3}).requires_grad_(true);
  Optimizer opt({{"a", a}, {"frozen", frozen}}, OptimizerOptions{});
  a.mutable_grad() = at::ones({3, 3});
  frozen.mutable_grad() = at::ones({3, 3});
  opt.step();
  const at::Tensor frozen_moment = opt.state().at("frozen").exp_avg.clone();
  frozen.requires_grad_(false);  // e.g. StableMoE's distilled router entering stage 2
  frozen.mutable_grad() = at::ones({3, 3});
  const at::Tensor before = frozen.detach().clone();
  const at::Tensor a_before = a.detach().clone();
  opt.step();
  EXPECT_TRUE(at::equal(frozen, before));
  EXPECT_TRUE(at::equal(opt.state().at("frozen").exp_avg, frozen_moment));
  EXPECT_EQ(opt.state().at("frozen").step, 1);
  EXPECT_EQ(opt.state().at("a").step, 2);
  EXPECT_FALSE(at::equal(a, a_before));
}

TEST(Optimizer, ZeroGradDropsGradients) {
  at::Tensor a = at::ones({2}).requires_grad_(true);
  Optimizer opt({{"a", a}}, OptimizerOptions{});
  (a * 2).sum().backward();
  ASSERT_TRUE(a.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  opt.step();  // no gradient: no step, no state
  EXPECT_TRUE(opt.state().empty());
}

TEST(Optimizer, StateRoundTripContinuesBitIdentically) {
  at::manual_seed(9);
  const at::Tensor p0 = at::randn({4, 6});
  at::Tensor p = p0.clone().requires_grad_(true);
  Optimizer opt({{"p", p}}, OptimizerOptions{});
  std::vector<at::Tensor> grads;
  for (int i = 0; i < 6; ++i) grads.push_back(at::randn({4, 6}));
  for (int i = 0; i < 3; ++i) {
    p.mutable_grad() = grads[i].clone();
    opt.step();
  }
  // A second optimizer on a copy of the parameter, restored from the first's state.
  at::Tensor q = p.detach().clone().requires_grad_(true);
  Optimizer restored({{"p", q}}, OptimizerOptions{});
  std::map<std::string, Optimizer::ParamState> state = opt.state();
  restored.load_state(state);
  for (int i = 3; i < 6; ++i) {
    p.mutable_grad() = grads[i].clone();
    q.mutable_grad() = grads[i].clone();
    opt.step();
    restored.step();
  }
  EXPECT_TRUE(at::equal(p, q));
  std::map<std::string, Optimizer::ParamState> bad;
  bad["nope"] = state.at("p");
  EXPECT_THROW(restored.load_state(bad), std::exception);
}

}  // namespace
}  // namespace switchyard::train
