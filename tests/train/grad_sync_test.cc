// Gradient synchronization under MPI (2 and 4 ranks), checked against the formula of
// train/grad_sync.h computed from every rank's known gradients.
#include "train/grad_sync.h"

#include <mpi.h>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"

namespace switchyard::train {
namespace {

// The gradient rank r holds for parameter `index` (distinct per rank and parameter).
at::Tensor grad_of(int rank, int index, at::IntArrayRef shape, at::ScalarType type = at::kFloat) {
  return (at::arange(at::IntArrayRef(shape).vec().empty() ? 1 : c10::multiply_integers(shape),
                     at::kDouble)
                  .reshape(shape) *
              (index + 1) +
          100.0 * rank)
      .to(type);
}

at::Tensor param(at::IntArrayRef shape, at::ScalarType type = at::kFloat) {
  return at::zeros(shape, at::TensorOptions().dtype(type)).requires_grad_(true);
}

struct World {
  std::shared_ptr<comm::Communicator> world;
  comm::ProcessGroups groups;
};

World make_world(int expert_parallel_size) {
  World w;
  w.world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const comm::Topology topology = comm::make_emulated_topology(w.world->rank(), w.world->size(), 1);
  w.groups = comm::build_process_groups(w.world, topology, expert_parallel_size);
  return w;
}

TEST(GradSync, DenseGradientsAreAveragedOverTheWorld) {
  World w = make_world(1);
  const int rank = w.world->rank(), size = w.world->size();
  std::vector<at::Tensor> dense = {param({3, 2}), param({5}), param({2, 2}, at::kDouble),
                                   param({4})};
  for (int i = 0; i < 3; ++i)
    dense[i].mutable_grad() = grad_of(rank, i, dense[i].sizes(), dense[i].scalar_type());
  // dense[3] has no gradient on any rank: it must come out as zeros, not be skipped.
  GradientSynchronizer sync(dense, {}, w.world, nullptr, GradSyncOptions{/*bucket_bytes=*/32});
  sync.synchronize();
  for (int i = 0; i < 3; ++i) {
    at::Tensor expected = at::zeros(dense[i].sizes(), at::kDouble);
    for (int r = 0; r < size; ++r) expected += grad_of(r, i, dense[i].sizes(), at::kDouble);
    expected /= size;
    EXPECT_TRUE(at::allclose(dense[i].grad().to(at::kDouble), expected, 1e-6, 1e-6)) << i;
  }
  EXPECT_TRUE(at::equal(dense[3].grad(), at::zeros({4})));
  // 32-byte buckets: [3,2] f32 = 24 B; [5] f32 = 20 B (new bucket); [2,2] f64 (new dtype);
  // [4] f32 = 16 B (new bucket after the f64 one).
  EXPECT_EQ(sync.last_num_collectives(), 4);
}

TEST(GradSync, OneCollectivePerBucketNotPerTensor) {
  World w = make_world(1);
  std::vector<at::Tensor> dense;
  for (int i = 0; i < 20; ++i) {
    dense.push_back(param({16}));
    dense.back().mutable_grad() = grad_of(w.world->rank(), i, {16});
  }
  GradientSynchronizer sync(dense, {}, w.world, nullptr);
  sync.synchronize();
  EXPECT_EQ(sync.last_num_collectives(), 1);
}

TEST(GradSync, ExpertGradientsAreSummedOverReplicasAndDividedByWorld) {
  const int size = [] {
    int s = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }();
  for (int ep : {1, 2, size}) {
    if (size % ep != 0) continue;
    World w = make_world(ep);
    const int rank = w.world->rank();
    std::vector<at::Tensor> experts = {param({2, 3}), param({7})};
    for (int i = 0; i < 2; ++i) experts[i].mutable_grad() = grad_of(rank, i, experts[i].sizes());
    GradientSynchronizer sync({}, experts, w.world, w.groups.expert_data);
    sync.synchronize();
    // Replicas of this rank's experts: world ranks with the same EP rank (rank % ep).
    for (int i = 0; i < 2; ++i) {
      at::Tensor expected = at::zeros(experts[i].sizes(), at::kDouble);
      for (int r = rank % ep; r < size; r += ep)
        expected += grad_of(r, i, experts[i].sizes(), at::kDouble);
      expected /= size;
      EXPECT_TRUE(at::allclose(experts[i].grad().to(at::kDouble), expected, 1e-6, 1e-6))
          << "ep " << ep << " param " << i;
    }
  }
}

TEST(GradSync, GlobalNormCountsEveryParameterOnce) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int ep = size;  // each rank owns distinct experts
  World w = make_world(ep);
  const int rank = w.world->rank();
  at::Tensor dense = param({4});
  dense.mutable_grad() = at::full({4}, 0.5);  // identical on every rank (as after sync)
  at::Tensor expert = param({3});
  expert.mutable_grad() = at::full({3}, static_cast<float>(rank + 1));
  const double norm = global_grad_norm({dense}, {expert}, *w.groups.expert);
  double expected_sq = 4 * 0.25;
  for (int r = 0; r < size; ++r) expected_sq += 3.0 * (r + 1) * (r + 1);
  EXPECT_NEAR(norm, std::sqrt(expected_sq), 1e-9);
  const double factor = clip_gradients({dense, expert}, norm, 1.0);
  EXPECT_NEAR(factor, 1.0 / (norm + 1e-6), 1e-12);
  EXPECT_NEAR(global_grad_norm({dense}, {expert}, *w.groups.expert), norm * factor, 1e-6);
  EXPECT_EQ(clip_gradients({dense}, 0.5, 1.0), 1.0);  // below the threshold: unchanged
}

}  // namespace
}  // namespace switchyard::train
