// The MPI backend carrying CUDA tensors through HostStagingCommunicator (ctest label `gpu`;
// 2 and 4 ranks). This is the multi-rank path of a one-GPU host: every rank runs on device 0,
// so the tests run whenever one CUDA device is visible (skipped otherwise, on every rank alike).
//   * collectives and the all-to-all strategies on CUDA tensors through the staged world ==
//     the same operations on CPU tensors through plain MPI, bit for bit (the same MPI
//     operations run on the same bytes), with the same traffic counters;
//   * the MoE layer at EP = 2 on CUDA through staged process groups, forward and backward ==
//     the single-process layer on the CPU (the gold reference of
//     tests/models/gold_equivalence_test.cc), within float32 tolerance.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/all_to_all.h"
#include "comm/host_staging_communicator.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/moe_builder.h"
#include "tests/comm/a2a_test_util.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/models/moe_mpi_test_util.h"
#include "tests/models/moe_test_util.h"
#include "tests/testing/mpi_world.h"

namespace switchyard {
namespace {

using comm::AllToAll;
using comm::AllToAllAlgorithm;
using comm::AllToAllLayout;
using comm::ProcessGroups;
using comm::testing::bitwise_equal;
using comm::testing::make_input;
using comm::testing::random_count_matrix;
using switchyard::testing::world_rank;
using switchyard::testing::world_size;

constexpr std::chrono::milliseconds kTimeout{60000};
const at::Device kCuda(at::kCUDA, 0);  // shared by every rank

class CudaStaging : public ::testing::Test {
 protected:
  void SetUp() override {
    SY_SKIP_UNLESS_CUDA_DEVICES(1, "every rank runs on device 0");
    cpu_world_ = comm::testing::test_world(kTimeout);
    staged_world_ =
        std::make_shared<comm::HostStagingCommunicator>(comm::testing::test_world(kTimeout));
  }

  std::shared_ptr<comm::MpiCommunicator> cpu_world_;  // CPU tensors
  std::shared_ptr<comm::Communicator> staged_world_;  // CUDA tensors through host buffers
};

TEST_F(CudaStaging, CollectivesOnCudaEqualCpuBitForBit) {
  const int W = staged_world_->size();
  const int me = staged_world_->rank();
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kDouble, at::kLong, at::kInt}) {
    SCOPED_TRACE(c10::toString(dtype));
    const at::Tensor x = make_input(33, 7, dtype, 10 + me);  // [33, 7], different on every rank
    for (comm::ReduceOp op : {comm::ReduceOp::kSum, comm::ReduceOp::kMax}) {
      at::Tensor expected = x.clone();
      cpu_world_->all_reduce(expected, {op})->wait();
      at::Tensor got = x.to(kCuda);
      staged_world_->all_reduce(got, {op})->wait();
      EXPECT_TRUE(got.is_cuda());
      EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << comm::reduce_op_name(op);
    }
    at::Tensor gathered = at::empty({33 * W, 7}, x.options());  // [33W, 7] in rank order
    cpu_world_->all_gather(gathered, x)->wait();
    at::Tensor gathered_dev = at::empty({33 * W, 7}, x.options().device(kCuda));
    staged_world_->all_gather(gathered_dev, x.to(kCuda))->wait();
    EXPECT_TRUE(bitwise_equal(gathered_dev.cpu(), gathered)) << "all_gather";
    for (int root = 0; root < W; ++root) {
      at::Tensor expected = x.clone();
      cpu_world_->broadcast(expected, root)->wait();
      at::Tensor got = x.to(kCuda);
      staged_world_->broadcast(got, root)->wait();
      EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << "broadcast from " << root;
    }
  }
  staged_world_->barrier()->wait();
}

// Shapes: one rank per node (a real two-phase exchange), two ranks per node, and at 4 ranks EP
// groups of 2 ranks inside one node.
struct GroupShape {
  int ranks_per_node;
  int ep;
};

TEST_F(CudaStaging, AllToAllStrategiesOnCudaEqualCpuBitForBit) {
  const int W = staged_world_->size();
  const int me = staged_world_->rank();
  std::vector<GroupShape> shapes = {{1, W}, {2, W}};
  if (W >= 4) shapes.push_back({2, 2});
  const AllToAllAlgorithm algorithms[] = {
      AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical, AllToAllAlgorithm::kLeader,
      AllToAllAlgorithm::kInterFirst};
  const at::ScalarType dtypes[] = {at::kFloat, at::kBFloat16, at::kDouble, at::kLong, at::kInt};
  const int64_t hiddens[] = {1, 6, 64, 1024};
  for (const GroupShape& shape : shapes) {
    if (W % shape.ranks_per_node != 0) continue;
    const comm::Topology topology = comm::make_emulated_topology(me, W, shape.ranks_per_node);
    SCOPED_TRACE(topology.to_string() + ", EP " + std::to_string(shape.ep));
    const ProcessGroups cpu = comm::build_process_groups(cpu_world_, topology, shape.ep);
    const ProcessGroups staged = comm::build_process_groups(staged_world_, topology, shape.ep);
    const auto reference = comm::make_all_to_all(AllToAllAlgorithm::kFlat, cpu);
    std::vector<std::shared_ptr<AllToAll>> on_cpu;
    std::vector<std::shared_ptr<AllToAll>> on_cuda;
    for (AllToAllAlgorithm a : algorithms) {
      on_cpu.push_back(comm::make_all_to_all(a, cpu));
      on_cuda.push_back(comm::make_all_to_all(a, staged));
    }
    const int P = shape.ep;
    std::mt19937_64 rng(4242);  // the same layouts on every rank
    for (int i = 0; i < 14; ++i) {
      std::vector<int64_t> m = random_count_matrix(rng, P, i % 7);  // [P * P] src-major
      // Even: agreed layouts; odd: local ones, verified first (a staged all-gather).
      const AllToAllLayout layout =
          i % 2 == 0 ? AllToAllLayout::from_agreed_count_matrix(staged.expert->rank(), P, m)
                     : AllToAllLayout::from_count_matrix(staged.expert->rank(), P, m);
      const at::ScalarType dtype = dtypes[i % 5];
      const int64_t hidden = hiddens[i % 4];
      // [send rows, H] by destination; [recv rows, H] by source
      const at::Tensor input = make_input(layout.total_send_rows(), hidden, dtype, 50 * i + me);
      const at::Tensor expected = reference->exchange(input, layout).clone();
      const at::Tensor input_dev = input.to(kCuda);
      for (size_t a = 0; a < on_cuda.size(); ++a) {
        const std::string what = std::string(on_cuda[a]->name()) + ", layout " + std::to_string(i) +
                                 " " + c10::toString(dtype);
        const at::Tensor got_cpu = on_cpu[a]->exchange(input, layout).clone();
        const at::Tensor got = on_cuda[a]->exchange(input_dev, layout).clone();
        EXPECT_TRUE(got.is_cuda()) << what;
        EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << what;
        const at::Tensor back = on_cuda[a]->exchange(got, layout.transposed());
        EXPECT_TRUE(bitwise_equal(back.cpu(), input)) << "round trip " << what;
        on_cpu[a]->exchange(got_cpu, layout.transposed());  // the same exchanges as on CUDA
      }
    }
    for (size_t a = 0; a < on_cuda.size(); ++a) {
      EXPECT_TRUE(on_cuda[a]->traffic() == on_cpu[a]->traffic())
          << on_cuda[a]->name() << ": staged " << on_cuda[a]->traffic().to_string() << ", mpi "
          << on_cpu[a]->traffic().to_string();
    }
  }
}

// The MoE layer at EP = 2 on CUDA (staged groups) against the single-process layer on the CPU
// over the rank-ordered concatenation of every rank's tokens, one routing group per rank.
// Tolerance (relative L2 error): the distributed side computes on the GPU (cuBLAS float32
// products with other summation orders and FMA, TF32 switched off), the reference on the CPU.
// Products of 16-32 terms differ by a few float32 ulps (~1e-7 relative), the whole layer by
// ~1e-6. 2e-5 leaves a factor 10-20 for that and still catches what a wrong exchange does: one
// misplaced token of the 12 W is a relative error above 1e-2, and even the router's aux-loss
// gradient at half its weight (coefficients 0.01 and 0.001) showed up as 1.3e-4 to 2.6e-4 when
// tried on the CPU.
constexpr double kTolerance = 2e-5;
constexpr int kEp = 2;

struct GoldCase {
  std::string name;
  models::testing::LayerSpec spec;
  AllToAllAlgorithm algorithm;
  int ranks_per_node;  // 1: the EP group spans 2 nodes; 2: one node
};

void run_gold_case(const GoldCase& c, const std::shared_ptr<comm::Communicator>& world) {
  SCOPED_TRACE(c.name);
  const int W = world->size();
  const int rank = world->rank();
  const ProcessGroups groups = comm::build_process_groups(
      world, comm::make_emulated_topology(rank, W, c.ranks_per_node), kEp);
  const auto all_to_all = comm::make_all_to_all(c.algorithm, groups);
  const int64_t T = 12;  // tokens per rank
  const int64_t H = c.spec.hidden;
  const at::Tensor x = models::testing::make_tokens(W * T, H, 17);  // [W T, H] on every rank
  const at::Tensor g = models::testing::make_tokens(W * T, H, 18);  // [W T, H] output gradient
  const models::MoEBuildOptions options = models::testing::build_options(c.spec);

  // Distributed on CUDA: this rank's T tokens.
  models::AuxLossCollector aux;
  models::MoELayer layer = models::build_moe_layer(
      options,
      models::MoEParallel{groups.expert, all_to_all, groups.host_world, groups.host_expert}, &aux);
  layer->to(kCuda);
  at::Tensor x_local = x.narrow(0, rank * T, T).to(kCuda).requires_grad_(true);  // [T, H]
  const models::MoEOutput out = layer->forward(x_local, {5, {}});
  ASSERT_TRUE(out.output.is_cuda());
  ((out.output * g.narrow(0, rank * T, T).to(kCuda)).sum() + aux.weighted_sum()).backward();
  models::testing::sync_gradients(layer, groups);

  // Single process on the CPU. Its aux loss is the mean over the W routing groups, the ranks'
  // losses add up to W times that.
  models::AuxLossCollector ref_aux;
  models::MoELayer ref = models::build_moe_layer(options, models::MoEParallel{}, &ref_aux);
  const at::Tensor x_ref = x.clone().requires_grad_(true);  // [W T, H]
  const models::MoEOutput ref_out = ref->forward(x_ref, {5, std::vector<int64_t>(W, T)});
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(W)).backward();

  auto mine = [&](const at::Tensor& t) { return t.narrow(0, rank * T, T); };
  EXPECT_TRUE(
      at::equal(layer->last_routing().expert_ids.cpu(), mine(ref->last_routing().expert_ids)))
      << "routing decisions differ";
  EXPECT_TRUE(at::equal(layer->last_plan().keep.cpu(), mine(ref->last_plan().keep)))
      << "kept assignments differ";
  EXPECT_LT(models::testing::relative_error(out.output.cpu(), mine(ref_out.output)), kTolerance);
  ASSERT_TRUE(x_local.grad().defined());
  EXPECT_LT(models::testing::relative_error(x_local.grad().cpu(), mine(x_ref.grad())), kTolerance)
      << "input gradient";
  // Router parameters are replicated; expert parameters are the slice [first, first + L) of the
  // reference's.
  auto ref_params = ref->named_parameters();
  const int64_t local = c.spec.experts / kEp;
  const int64_t first = groups.expert->rank() * local;
  for (const auto& item : layer->named_parameters()) {
    const at::Tensor grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key();
    EXPECT_TRUE(grad.is_cuda()) << item.key();
    at::Tensor expected = ref_params[item.key()].grad();
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    EXPECT_LT(models::testing::relative_error(grad.cpu(), expected), kTolerance) << item.key();
  }
}

TEST_F(CudaStaging, MoELayerAtEp2OnCudaEqualsSingleProcessGold) {
  at::globalContext().setFloat32MatmulPrecision("highest");  // no TF32 in the GPU products
  models::testing::LayerSpec top_k;  // 4 experts, top-2, softmax, dropless, H 16, FFN 32
  models::testing::LayerSpec capacity = top_k;
  capacity.capacity_factor = 1.0;
  capacity.drop_policy = models::DropPolicy::kPosition;
  models::testing::LayerSpec switch_top1 = top_k;  // Switch: top-1, raw gate
  switch_top1.top_k = 1;
  switch_top1.normalize = false;
  models::testing::LayerSpec swiglu = top_k;
  swiglu.expert_kind = models::ExpertKind::kSwiGlu;
  const GoldCase cases[] = {
      {"top-2 dropless, flat, one node", top_k, AllToAllAlgorithm::kFlat, 2},
      {"top-2 dropless, hierarchical over 2 nodes", top_k, AllToAllAlgorithm::kHierarchical, 1},
      {"top-2 capacity 1.0, hierarchical over 2 nodes", capacity, AllToAllAlgorithm::kHierarchical,
       1},
      {"switch top-1, flat over 2 nodes", switch_top1, AllToAllAlgorithm::kFlat, 1},
      {"top-2 SwiGLU experts, hierarchical in one node", swiglu, AllToAllAlgorithm::kHierarchical,
       2},
  };
  for (const GoldCase& c : cases) run_gold_case(c, staged_world_);
}

}  // namespace
}  // namespace switchyard
