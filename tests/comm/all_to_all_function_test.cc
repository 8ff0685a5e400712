// Autograd: the backward of all_to_all_autograd is the transposed exchange of the upstream
// gradient; finite differences in float64 through a small function of the exchanged tensor.
#include "comm/all_to_all_function.h"

#include <mpi.h>

#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/topology.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

struct Fixture {
  std::shared_ptr<MpiCommunicator> world = testing::test_world();
  ProcessGroups groups;
  std::vector<std::shared_ptr<AllToAll>> strategies;
  Fixture() {
    const int W = world->size();
    const int g = W % 2 == 0 ? W / 2 : 1;
    groups = build_process_groups(world, make_emulated_topology(world->rank(), W, g), W);
    strategies.push_back(make_all_to_all(AllToAllAlgorithm::kFlat, groups));
    strategies.push_back(make_all_to_all(AllToAllAlgorithm::kHierarchical, groups));
    strategies.push_back(make_all_to_all(AllToAllAlgorithm::kLeader, groups));
  }
};

// L = sum over ranks of sum(w * y * y + y), y = a2a(x); dL/dy = 2 w y + 1.
double global_loss(const at::Tensor& y, const at::Tensor& w) {
  double local = (w * y * y + y).sum().item<double>();
  double total = 0;
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

TEST(AllToAllFunction, BackwardIsTransposedExchangeAndMatchesFiniteDifferences) {
  Fixture f;
  const int P = f.groups.expert->size();
  const int me = f.groups.expert->rank();
  std::mt19937_64 rng(2024);
  const int64_t H = 3;
  for (int trial = 0; trial < 3; ++trial) {
    const std::vector<int64_t> m = testing::random_count_matrix(rng, P, trial == 0 ? 6 : 2);
    std::vector<int64_t> send(m.begin() + me * P, m.begin() + (me + 1) * P);
    const AllToAllLayout layout = AllToAllLayout::exchange_counts(*f.groups.expert, send);
    for (auto& a2a : f.strategies) {
      SCOPED_TRACE(std::string(a2a->name()) + " trial " + std::to_string(trial));
      at::Tensor x = testing::make_input(layout.total_send_rows(), H, at::kDouble, 77 + me)
                         .requires_grad_(true);  // [total_send, H]
      const at::Tensor w =
          testing::make_input(layout.total_recv_rows(), H, at::kDouble, 991 + me);  // [recv, H]
      at::Tensor y = all_to_all_autograd(a2a, x, layout);  // [total_recv, H]
      EXPECT_TRUE(y.requires_grad());
      const at::Tensor loss = (w * y * y + y).sum();
      torch::autograd::backward({loss});
      // Analytic: transposed exchange of dL/dy (autograd's dL/dy differs from 2wy + 1 only by
      // rounding, so compare to 1e-12).
      const at::Tensor dy = (2 * w * y + 1).detach();
      const at::Tensor expected = a2a->exchange(dy, layout.transposed());
      ASSERT_TRUE(x.grad().defined());
      EXPECT_TRUE(at::allclose(x.grad(), expected, 1e-12, 1e-12));
      // Finite differences on a few (rank, element) pairs, the same on every rank.
      const double eps = 1e-6;
      for (int probe = 0; probe < 4; ++probe) {
        const int owner = static_cast<int>(rng() % P);
        int64_t owner_rows = 0;
        for (int d = 0; d < P; ++d) owner_rows += m[owner * P + d];
        if (owner_rows == 0) continue;
        const int64_t idx = static_cast<int64_t>(rng() % (owner_rows * H));
        double analytic = 0;
        at::Tensor xd = x.detach().clone().view(-1);
        const double orig = me == owner ? xd[idx].item<double>() : 0.0;
        if (me == owner) analytic = x.grad().view(-1)[idx].item<double>();
        double l[2];
        for (int side = 0; side < 2; ++side) {
          if (me == owner) xd[idx] = orig + (side == 0 ? eps : -eps);
          l[side] = global_loss(a2a->exchange(xd.view({-1, H}), layout), w);
        }
        const double numeric = (l[0] - l[1]) / (2 * eps);
        MPI_Bcast(&analytic, 1, MPI_DOUBLE, owner, MPI_COMM_WORLD);
        EXPECT_NEAR(numeric, analytic, 1e-6 * std::max(1.0, std::abs(analytic)))
            << "element " << idx << " of rank " << owner;
      }
    }
  }
}

TEST(AllToAllFunction, DispatchThenCombineIsIdentityWithIdentityGradient) {
  Fixture f;
  const int P = f.groups.expert->size();
  const int me = f.groups.expert->rank();
  std::mt19937_64 rng(99);
  const std::vector<int64_t> m = testing::random_count_matrix(rng, P, 0);
  const AllToAllLayout layout = AllToAllLayout::from_count_matrix(me, P, m);
  for (auto& a2a : f.strategies) {
    at::Tensor x = testing::make_input(layout.total_send_rows(), 5, at::kFloat, 5 + me)
                       .requires_grad_(true);                                     // [send, 5]
    at::Tensor routed = all_to_all_autograd(a2a, x, layout);                      // [recv, 5]
    at::Tensor back = all_to_all_autograd(a2a, routed * 3, layout.transposed());  // [send, 5]
    EXPECT_TRUE(testing::bitwise_equal(back, x.detach() * 3));
    back.sum().backward();
    EXPECT_TRUE(at::equal(x.grad(), at::full_like(x, 3)));
  }
}

TEST(AllToAllFunction, NoGradInputGivesPlainTensor) {
  Fixture f;
  const int P = f.groups.expert->size();
  std::vector<int64_t> send(P, 1);
  const AllToAllLayout layout = AllToAllLayout::exchange_counts(*f.groups.expert, send);
  at::Tensor x = at::ones({P, 2}, at::kFloat);
  at::Tensor y = all_to_all_autograd(f.strategies[0], x, layout);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(at::equal(y, x));
}

}  // namespace
}  // namespace switchyard::comm
