// NcclCommunicator against MpiCommunicator (ctest label `gpu`; world sizes 1, 2, 4 and 8).
//
// NCCL needs one distinct GPU per rank: every test skips, on every rank alike, unless each rank
// sees at least world-size CUDA devices; rank r then runs on device r % devices. Every operation
// runs twice on the same data: on CPU tensors through MPI (the reference) and on CUDA tensors
// through NCCL.
//   * data movement (variable all-to-all, exchange_blocks, all-gather, broadcast, the all-to-all
//     strategies over NCCL process groups, the differentiable all-to-all): bit for bit equal;
//   * reductions: integer-valued data, max and min exactly equal; float32 sums within the bound
//     of a different summation order (AllReduceSumOfFloat32WithinReorderingBound);
//   * CPU tensors are refused with a CommError naming the operation and the device.
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <cuda_runtime.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/all_to_all.h"
#include "comm/all_to_all_function.h"
#include "comm/comm_error.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/nccl/nccl_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "tests/comm/a2a_test_util.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/testing/mpi_world.h"

namespace switchyard::comm {
namespace {

using switchyard::testing::visible_cuda_devices;
using switchyard::testing::world_rank;
using switchyard::testing::world_size;
using ::testing::AllOf;
using testing::bitwise_equal;
using ::testing::HasSubstr;
using testing::make_input;
using testing::random_count_matrix;
using ::testing::ThrowsMessage;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTimeout{60000};  // a hang fails the test, not ctest
const at::ScalarType kDtypes[] = {at::kFloat, at::kBFloat16, at::kDouble, at::kLong, at::kInt};
const int64_t kHiddens[] = {1, 5, 64, 4096};

class NcclCollectives : public ::testing::Test {
 protected:
  void SetUp() override {
    SY_SKIP_UNLESS_CUDA_DEVICES(world_size(), "NCCL needs one distinct GPU per rank");
    device_ =
        at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(world_rank() % visible_cuda_devices()));
    ASSERT_EQ(cudaSetDevice(device_.index()), cudaSuccess);
    mpi_ = testing::test_world(kTimeout);
    NcclCommunicatorOptions options;
    options.name = "world";
    options.timeout = kTimeout;
    options.on_timeout = TimeoutAction::kThrow;
    options.device = device_.index();
    nccl_ = NcclCommunicator::create(MPI_COMM_WORLD, options);
    ASSERT_EQ(nccl_->size(), world_size());
    ASSERT_EQ(nccl_->rank(), world_rank());
  }

  at::Device device_{at::kCPU};
  std::shared_ptr<MpiCommunicator> mpi_;
  std::shared_ptr<NcclCommunicator> nccl_;
};

std::string dtype_name(at::ScalarType dtype) { return c10::toString(dtype); }

TEST_F(NcclCollectives, VariableAllToAllEqualsMpiBitForBit) {
  const int P = nccl_->size();
  const int me = nccl_->rank();
  std::mt19937_64 rng(2024);  // the same stream on every rank: the same count matrices
  // 7 patterns (uniform, sparse, a silent sender and receiver, all zero, one entry, one hot
  // destination, dense) x 3, then one large uneven layout with zero blocks.
  for (int i = 0; i <= 21; ++i) {
    std::vector<int64_t> m;  // [P * P] src-major: m[s * P + d] rows from s to d
    if (i < 21) {
      m = random_count_matrix(rng, P, i % 7);
    } else {
      m.assign(static_cast<size_t>(P) * P, 0);
      for (int s = 0; s < P; ++s) {
        for (int d = 0; d < P; ++d)
          m[s * P + d] = (s + d) % 3 == 1 ? 0 : 100 + 37 * ((s + 2 * d) % 5);
      }
    }
    const at::ScalarType dtype = i < 21 ? kDtypes[i % 5] : at::kFloat;
    const int64_t hidden = i < 21 ? kHiddens[i % 4] : 1000;
    std::vector<int64_t> send(P);
    std::vector<int64_t> recv(P);
    int64_t send_rows = 0;
    int64_t recv_rows = 0;
    for (int p = 0; p < P; ++p) {
      send[p] = m[me * P + p];
      recv[p] = m[p * P + me];
      send_rows += send[p];
      recv_rows += recv[p];
    }
    SCOPED_TRACE("layout " + std::to_string(i) + ", " + dtype_name(dtype) + ", hidden " +
                 std::to_string(hidden));
    const at::Tensor in = make_input(send_rows, hidden, dtype, 1000 * i + me);  // [send_rows, H]
    at::Tensor expected = at::empty({recv_rows, hidden}, in.options());         // [recv_rows, H]
    mpi_->all_to_all(expected, in, recv, send)->wait();

    const at::Tensor in_dev = in.to(device_);
    // Prefilled, so that a row NCCL does not write shows up as a difference.
    at::Tensor out_dev = at::full({recv_rows, hidden}, -7, in_dev.options());  // [recv_rows, H]
    nccl_->all_to_all(out_dev, in_dev, recv, send)->wait();
    EXPECT_TRUE(bitwise_equal(out_dev.cpu(), expected));
    EXPECT_TRUE(bitwise_equal(in_dev.cpu(), in)) << "the input changed";
  }
}

// exchange_blocks with several blocks per pair (some empty) at arbitrary offsets of two inputs
// and two outputs whose other rows must stay untouched.
TEST_F(NcclCollectives, ExchangeBlocksEqualsMpiBitForBit) {
  const int P = nccl_->size();
  const int me = nccl_->rank();
  constexpr int K = 3;  // blocks per (source, destination) pair; the k-th sent is the k-th received
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::mt19937_64 rng(500 + round);  // the same block sizes on every rank
    std::uniform_int_distribution<int64_t> draw(0, 4);
    std::vector<int64_t> rows(static_cast<size_t>(P) * P * K);  // [src][dst][k], 0 = no block
    for (int64_t& r : rows) r = round == 2 ? 0 : draw(rng);     // round 2: nothing moves at all
    auto b = [&](int s, int d, int k) -> int64_t& { return rows[(s * P + d) * K + k]; };
    if (round == 1) {  // the last rank sends nothing, rank 0 receives nothing
      for (int p = 0; p < P; ++p) {
        for (int k = 0; k < K; ++k) b(P - 1, p, k) = b(p, 0, k) = 0;
      }
    }
    const at::ScalarType dtype = round == 3 ? at::kLong : at::kFloat;
    const int64_t hidden = round == 3 ? 3 : 33;

    // Inputs of sender s: A [sum_d b(s,d,0), H], its first blocks by destination ascending;
    // B [2 + sum_d (b(s,d,1) + b(s,d,2)), H], 2 unsent rows, then per destination descending its
    // second and third blocks. off[d * K + k] = row of block (d, k) in A (k = 0) or B.
    struct SenderLayout {
      int64_t a_rows = 0;
      int64_t b_rows = 2;
      std::vector<int64_t> off;
    };
    auto sender_layout = [&](int s) {
      SenderLayout l;
      l.off.assign(static_cast<size_t>(P) * K, 0);
      for (int d = 0; d < P; ++d) {
        l.off[d * K] = l.a_rows;
        l.a_rows += b(s, d, 0);
      }
      for (int d = P - 1; d >= 0; --d) {
        for (int k = 1; k < K; ++k) {
          l.off[d * K + k] = l.b_rows;
          l.b_rows += b(s, d, k);
        }
      }
      return l;
    };
    auto input_of = [&](int s, int which, int64_t n) {  // [n, H], the same on every rank
      return make_input(n, hidden, dtype, 7000 + 100 * round + 10 * s + which);
    };
    const SenderLayout mine = sender_layout(me);
    std::vector<BlockTransfer> sends;  // posted k-major; per peer still k = 0, 1, 2
    for (int k = 0; k < K; ++k) {
      for (int d = 0; d < P; ++d)
        sends.push_back({d, k == 0 ? 0 : 1, mine.off[d * K + k], b(me, d, k)});
    }
    // Outputs: X [1 + sum_s b(s,me,0) + 3, H], first blocks by source between 1 and 3 untouched
    // rows; Y [sum_s (b(s,me,1) + b(s,me,2)), H], third blocks by source descending, then second
    // blocks by source ascending.
    std::vector<int64_t> x_off(P);
    std::vector<int64_t> y_off(static_cast<size_t>(P) * K);
    int64_t x_rows = 1;
    for (int s = 0; s < P; ++s) {
      x_off[s] = x_rows;
      x_rows += b(s, me, 0);
    }
    x_rows += 3;
    int64_t y_rows = 0;
    for (int s = P - 1; s >= 0; --s) {
      y_off[s * K + 2] = y_rows;
      y_rows += b(s, me, 2);
    }
    for (int s = 0; s < P; ++s) {
      y_off[s * K + 1] = y_rows;
      y_rows += b(s, me, 1);
    }
    std::vector<BlockTransfer> recvs;
    for (int s = 0; s < P; ++s) {
      recvs.push_back({s, 0, x_off[s], b(s, me, 0)});
      recvs.push_back({s, 1, y_off[s * K + 1], b(s, me, 1)});
      recvs.push_back({s, 1, y_off[s * K + 2], b(s, me, 2)});
    }

    const std::vector<at::Tensor> ins = {input_of(me, 0, mine.a_rows),
                                         input_of(me, 1, mine.b_rows)};
    const std::vector<at::Tensor> outs_before = {make_input(x_rows, hidden, dtype, 90 + me),
                                                 make_input(y_rows, hidden, dtype, 95 + me)};
    std::vector<at::Tensor> outs = {outs_before[0].clone(), outs_before[1].clone()};
    mpi_->exchange_blocks(outs, ins, recvs, sends)->wait();
    const std::vector<at::Tensor> ins_dev = {ins[0].to(device_), ins[1].to(device_)};
    const std::vector<at::Tensor> outs_dev = {outs_before[0].to(device_),
                                              outs_before[1].to(device_)};
    nccl_->exchange_blocks(outs_dev, ins_dev, recvs, sends)->wait();

    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(bitwise_equal(outs_dev[i].cpu(), outs[i])) << "output " << i;
      EXPECT_TRUE(bitwise_equal(ins_dev[i].cpu(), ins[i])) << "input " << i << " changed";
    }
    // Independently of MPI: the rows no block covers are untouched, and every block holds the
    // sender's rows (regenerated here from the sender's seed).
    const at::Tensor x = outs_dev[0].cpu();
    const at::Tensor y = outs_dev[1].cpu();
    EXPECT_TRUE(bitwise_equal(x.narrow(0, 0, 1), outs_before[0].narrow(0, 0, 1)));
    EXPECT_TRUE(bitwise_equal(x.narrow(0, x_rows - 3, 3), outs_before[0].narrow(0, x_rows - 3, 3)));
    for (int s = 0; s < P; ++s) {
      const SenderLayout theirs = sender_layout(s);
      const at::Tensor a = input_of(s, 0, theirs.a_rows);
      const at::Tensor bb = input_of(s, 1, theirs.b_rows);
      EXPECT_TRUE(bitwise_equal(x.narrow(0, x_off[s], b(s, me, 0)),
                                a.narrow(0, theirs.off[me * K], b(s, me, 0))))
          << "block 0 from " << s;
      for (int k = 1; k < K; ++k) {
        EXPECT_TRUE(bitwise_equal(y.narrow(0, y_off[s * K + k], b(s, me, k)),
                                  bb.narrow(0, theirs.off[me * K + k], b(s, me, k))))
            << "block " << k << " from " << s;
      }
    }
  }
}

// Float32 sums in a different order: NCCL (ring, tree or NVLS, chunked) and MPI add the W
// values of an element in different orders. Any order of the W - 1 additions is within
// gamma * sum_r |x_r| of the exact sum, gamma = (W-1)u / (1 - (W-1)u), u = 2^-24 (the unit
// roundoff of float32; Higham, Accuracy and Stability, 2nd ed., eq. 4.4), so the two results
// differ by at most 2 gamma sum_r |x_r| per element. With one rank there is no addition:
// exact.
TEST_F(NcclCollectives, AllReduceSumOfFloat32WithinReorderingBound) {
  const int W = nccl_->size();
  const int me = nccl_->rank();
  // [4099] (no multiple of any chunk size), normal values, different on every rank
  const at::Tensor x = make_input(1, 4099, at::kFloat, 900 + me).reshape({4099});
  at::Tensor expected = x.clone();
  mpi_->all_reduce(expected)->wait();
  at::Tensor abs_sum = x.abs().to(at::kDouble);  // [4099] sum over ranks of |x_r|
  mpi_->all_reduce(abs_sum)->wait();
  at::Tensor got = x.to(device_);
  nccl_->all_reduce(got)->wait();
  const at::Tensor got_cpu = got.cpu();
  if (W == 1) {
    EXPECT_TRUE(bitwise_equal(got_cpu, x));
    return;
  }
  const double u = std::ldexp(1.0, -24);
  const double gamma = (W - 1) * u / (1.0 - (W - 1) * u);
  const at::Tensor diff = (got_cpu.to(at::kDouble) - expected.to(at::kDouble)).abs();
  const at::Tensor bound = 2.0 * gamma * abs_sum;
  EXPECT_TRUE(diff.le(bound).all().item<bool>())
      << "largest difference / bound: " << (diff / bound.clamp_min(1e-300)).max().item<double>();
  EXPECT_FALSE(got_cpu.isnan().any().item<bool>());
}

// Sums of integer-valued data are exact whatever the order (every partial sum is representable),
// and so are max and min of any data: bit for bit equal.
TEST_F(NcclCollectives, AllReduceOfIntegerValuedDataAndMaxMinAreExact) {
  const int me = nccl_->rank();
  struct Case {
    at::ScalarType dtype;
    int64_t bound;  // values in [-bound, bound]; W * bound stays exactly representable
  };
  // bfloat16 has 8 significant bits: integers up to 256 are exact, 8 ranks x 8 = 64.
  const Case cases[] = {{at::kFloat, 1000},
                        {at::kDouble, 1000000},
                        {at::kInt, 1000000},
                        {at::kLong, int64_t{1} << 40},
                        {at::kBFloat16, 8}};
  for (const Case& c : cases) {
    at::Generator gen = at::detail::createCPUGenerator(40 + me);
    // [1031] integers, different on every rank
    const at::Tensor x = at::randint(-c.bound, c.bound + 1, {1031}, gen, at::kLong).to(c.dtype);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin}) {
      at::Tensor expected = x.clone();
      mpi_->all_reduce(expected, {op})->wait();
      at::Tensor got = x.to(device_);
      nccl_->all_reduce(got, {op})->wait();
      EXPECT_TRUE(bitwise_equal(got.cpu(), expected))
          << dtype_name(c.dtype) << " " << reduce_op_name(op);
    }
  }
  // Max and min of arbitrary float32 values.
  const at::Tensor x = make_input(1, 777, at::kFloat, 60 + me).reshape({777});  // [777]
  for (ReduceOp op : {ReduceOp::kMax, ReduceOp::kMin}) {
    at::Tensor expected = x.clone();
    mpi_->all_reduce(expected, {op})->wait();
    at::Tensor got = x.to(device_);
    nccl_->all_reduce(got, {op})->wait();
    EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << "float32 " << reduce_op_name(op);
  }
}

TEST_F(NcclCollectives, AllGatherEqualsMpiBitForBit) {
  const int W = nccl_->size();
  const int me = nccl_->rank();
  for (at::ScalarType dtype : kDtypes) {
    const at::Tensor in = make_input(3, 5, dtype, 200 + me);    // [3, 5]
    at::Tensor expected = at::empty({3 * W, 5}, in.options());  // [3W, 5], rank order
    mpi_->all_gather(expected, in)->wait();
    at::Tensor out = at::empty({3 * W, 5}, in.options().device(device_));
    nccl_->all_gather(out, in.to(device_))->wait();
    const at::Tensor got = out.cpu();
    EXPECT_TRUE(bitwise_equal(got, expected)) << dtype_name(dtype);
    for (int r = 0; r < W; ++r) {
      EXPECT_TRUE(bitwise_equal(got.narrow(0, 3 * r, 3), make_input(3, 5, dtype, 200 + r)))
          << dtype_name(dtype) << " rank " << r;
    }
  }
}

TEST_F(NcclCollectives, BroadcastEqualsMpiBitForBit) {
  const int W = nccl_->size();
  const int me = nccl_->rank();
  for (int root = 0; root < W; ++root) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
      const at::Tensor mine = make_input(4, 17, dtype, 300 + me);  // [4, 17]
      at::Tensor expected = mine.clone();
      mpi_->broadcast(expected, root)->wait();
      at::Tensor got = mine.to(device_);
      nccl_->broadcast(got, root)->wait();
      EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << dtype_name(dtype) << " root " << root;
      EXPECT_TRUE(bitwise_equal(got.cpu(), make_input(4, 17, dtype, 300 + root)));
    }
  }
}

// A barrier holds every rank until the last one arrives: rank 0 arrives 300 ms late.
TEST_F(NcclCollectives, BarrierWaitsForTheLastRank) {
  for (int i = 0; i < 3; ++i) nccl_->barrier()->wait();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = Clock::now();
  if (nccl_->rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  nccl_->barrier()->wait();
  const auto elapsed = Clock::now() - start;
  // (MPI_Barrier releases the ranks within a few ms of each other.)
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_FALSE(nccl_->broken());
}

// Every entry point refuses a CPU tensor before anything is issued, naming the operation, the
// tensor and its device; the communicator stays usable.
TEST_F(NcclCollectives, CpuTensorsAreRefusedWithAClearError) {
  const int W = nccl_->size();
  at::Tensor cpu = at::ones({4, 2}, at::kFloat);           // [4, 2]
  at::Tensor cpu_out = at::empty({4 * W, 2}, at::kFloat);  // [4W, 2]
  at::Tensor dev_out = cpu_out.to(device_);
  const std::vector<int64_t> counts(W, 0);
  std::vector<int64_t> all_to_self(W, 0);
  all_to_self[nccl_->rank()] = 4;
  EXPECT_THAT([&] { nccl_->all_reduce(cpu); },
              ThrowsMessage<CommError>(AllOf(
                  HasSubstr("nccl all_reduce #0 on group 'world'"),
                  HasSubstr("all_reduce tensor is on cpu; the NCCL backend takes CUDA tensors"))));
  EXPECT_THAT([&] { nccl_->all_gather(dev_out, cpu); },
              ThrowsMessage<CommError>(HasSubstr("all_gather input is on cpu")));
  EXPECT_THAT([&] { nccl_->all_gather(cpu_out, cpu.to(device_)); },
              ThrowsMessage<CommError>(HasSubstr("all_gather output is on cpu")));
  EXPECT_THAT([&] { nccl_->all_to_all(cpu_out, cpu, all_to_self, all_to_self); },
              ThrowsMessage<CommError>(HasSubstr("all_to_all input is on cpu")));
  EXPECT_THAT([&] { nccl_->exchange_blocks({cpu_out}, {cpu}, {}, {}); },
              ThrowsMessage<CommError>(HasSubstr("exchange_blocks input is on cpu")));
  EXPECT_THAT([&] { nccl_->broadcast(cpu, 0); },
              ThrowsMessage<CommError>(AllOf(HasSubstr("nccl broadcast #5 on group 'world'"),
                                             HasSubstr("broadcast tensor is on cpu"))));
  EXPECT_FALSE(nccl_->broken());
  at::Tensor ok = at::ones({4}, at::TensorOptions().dtype(at::kFloat).device(device_));
  nccl_->all_reduce(ok)->wait();
  EXPECT_TRUE(ok.cpu().equal(at::full({4}, static_cast<float>(W))));
}

// The topologies the strategies run on: every shape of 2 ranks per node the world allows, one
// rank per node, and EP groups smaller than the world.
struct GroupShape {
  int ranks_per_node;
  int ep;
};

std::vector<GroupShape> group_shapes(int W) {
  if (W == 1) return {{1, 1}};
  std::vector<GroupShape> shapes = {{2, W}, {1, W}};  // W/2 nodes x 2, W nodes x 1
  if (W >= 4) shapes.push_back({2, W / 2});           // EP groups of W/2 ranks
  return shapes;
}

const AllToAllAlgorithm kAlgorithms[] = {AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical,
                                         AllToAllAlgorithm::kLeader,
                                         AllToAllAlgorithm::kInterFirst};

// The all-to-all strategies over process groups built on the NCCL world (MPI host world beside
// it) == the flat MPI strategy on CPU copies, bit for bit, forward and back, with the same
// traffic counters as the same strategies over MPI.
TEST_F(NcclCollectives, AllToAllStrategiesOverNcclGroupsEqualFlatMpi) {
  const int W = nccl_->size();
  const int me = nccl_->rank();
  for (const GroupShape& shape : group_shapes(W)) {
    const Topology topology = make_emulated_topology(me, W, shape.ranks_per_node);
    SCOPED_TRACE(topology.to_string() + ", EP " + std::to_string(shape.ep));
    const ProcessGroups cpu = build_process_groups(mpi_, topology, shape.ep);
    const ProcessGroups dev = build_process_groups(nccl_, topology, shape.ep, mpi_);
    ASSERT_EQ(dev.expert->backend_name(), "nccl");
    ASSERT_EQ(dev.host_expert->backend_name(), "mpi");
    ASSERT_TRUE(dev.expert_is_node_contiguous);
    const std::pair<const Communicator*, const Communicator*> pairs[] = {
        {cpu.expert.get(), dev.expert.get()},
        {cpu.expert_data.get(), dev.expert_data.get()},
        {cpu.intra_node.get(), dev.intra_node.get()},
        {cpu.inter_node.get(), dev.inter_node.get()},
        {cpu.expert_intra_node.get(), dev.expert_intra_node.get()},
        {cpu.expert_inter_node.get(), dev.expert_inter_node.get()}};
    for (const auto& [c, d] : pairs) {
      EXPECT_EQ(d->size(), c->size()) << c->name();
      EXPECT_EQ(d->rank(), c->rank()) << c->name();
    }
    const std::shared_ptr<AllToAll> reference = make_all_to_all(AllToAllAlgorithm::kFlat, cpu);
    std::vector<std::shared_ptr<AllToAll>> on_cpu;
    std::vector<std::shared_ptr<AllToAll>> on_dev;
    for (AllToAllAlgorithm a : kAlgorithms) {
      on_cpu.push_back(make_all_to_all(a, cpu));
      on_dev.push_back(make_all_to_all(a, dev));
    }
    const int P = shape.ep;
    const int ep_rank = dev.expert->rank();
    std::mt19937_64 rng(77);  // the same layouts on every rank (each EP group its own inputs)
    for (int i = 0; i < 21; ++i) {
      std::vector<int64_t> m = random_count_matrix(rng, P, i % 7);  // [P * P] src-major
      // Even: agreed layouts; odd: local ones, verified first (an all-gather on the device).
      const AllToAllLayout layout = i % 2 == 0
                                        ? AllToAllLayout::from_agreed_count_matrix(ep_rank, P, m)
                                        : AllToAllLayout::from_count_matrix(ep_rank, P, m);
      const at::ScalarType dtype = kDtypes[i % 5];
      const int64_t hidden = kHiddens[i % 4];
      // [send rows, H] grouped by destination EP rank; different on every world rank
      const at::Tensor input = make_input(layout.total_send_rows(), hidden, dtype, 100 * i + me);
      // [recv rows, H] grouped by source EP rank
      const at::Tensor expected = reference->exchange(input, layout).clone();
      const at::Tensor input_dev = input.to(device_);
      for (size_t a = 0; a < on_dev.size(); ++a) {
        const std::string what = std::string(on_dev[a]->name()) + ", layout " + std::to_string(i) +
                                 " " + dtype_name(dtype) + " H " + std::to_string(hidden);
        const at::Tensor got_cpu = on_cpu[a]->exchange(input, layout).clone();
        EXPECT_TRUE(bitwise_equal(got_cpu, expected)) << "mpi " << what;
        const at::Tensor got = on_dev[a]->exchange(input_dev, layout).clone();
        EXPECT_TRUE(got.is_cuda()) << what;
        EXPECT_TRUE(bitwise_equal(got.cpu(), expected)) << "nccl " << what;
        // The reverse exchange (combine, backward) brings the input back; MPI does the same so
        // that the traffic counters see the same exchanges.
        const at::Tensor back = on_dev[a]->exchange(got, layout.transposed());
        EXPECT_TRUE(bitwise_equal(back.cpu(), input)) << "nccl round trip " << what;
        on_cpu[a]->exchange(got_cpu, layout.transposed());
      }
      EXPECT_TRUE(bitwise_equal(input_dev.cpu(), input)) << "the input changed";
    }
    for (size_t a = 0; a < on_dev.size(); ++a) {
      const TrafficCounters& t = on_dev[a]->traffic();
      const TrafficCounters& ref = on_cpu[a]->traffic();
      EXPECT_EQ(t.intra_node_bytes, ref.intra_node_bytes) << on_dev[a]->name();
      EXPECT_EQ(t.inter_node_bytes, ref.inter_node_bytes) << on_dev[a]->name();
      EXPECT_TRUE(t == ref) << on_dev[a]->name() << ": nccl " << t.to_string() << ", mpi "
                            << ref.to_string();
      EXPECT_EQ(t.exchanges, 42) << on_dev[a]->name();
    }
  }
}

// The differentiable all-to-all on NCCL: forward and input gradient (the transposed exchange of
// the output gradient) bit for bit equal to MPI's.
TEST_F(NcclCollectives, DifferentiableAllToAllEqualsMpiBitForBit) {
  const int W = nccl_->size();
  const int me = nccl_->rank();
  const GroupShape shape = group_shapes(W).front();
  const Topology topology = make_emulated_topology(me, W, shape.ranks_per_node);
  const ProcessGroups cpu = build_process_groups(mpi_, topology, shape.ep);
  const ProcessGroups dev = build_process_groups(nccl_, topology, shape.ep, mpi_);
  const int P = shape.ep;
  std::mt19937_64 rng(31);
  const AllToAllLayout layout = AllToAllLayout::from_agreed_count_matrix(
      dev.expert->rank(), P, random_count_matrix(rng, P, 0));
  for (AllToAllAlgorithm algorithm : {AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical}) {
    SCOPED_TRACE(std::string(algorithm_name(algorithm)));
    const auto a2a_cpu = make_all_to_all(algorithm, cpu);
    const auto a2a_dev = make_all_to_all(algorithm, dev);
    // x: [send rows, 8]; g: [recv rows, 8], the gradient of the output
    const at::Tensor x = make_input(layout.total_send_rows(), 8, at::kFloat, 10 + me);
    const at::Tensor g = make_input(layout.total_recv_rows(), 8, at::kFloat, 20 + me);
    at::Tensor x_cpu = x.clone().requires_grad_(true);
    at::Tensor x_dev = x.to(device_).requires_grad_(true);
    const at::Tensor y_cpu = all_to_all_autograd(a2a_cpu, x_cpu, layout);
    (y_cpu * g).sum().backward();
    const at::Tensor y_dev = all_to_all_autograd(a2a_dev, x_dev, layout);
    (y_dev * g.to(device_)).sum().backward();
    EXPECT_TRUE(bitwise_equal(y_dev.detach().cpu(), y_cpu.detach()));
    ASSERT_TRUE(x_dev.grad().defined());
    EXPECT_TRUE(bitwise_equal(x_dev.grad().cpu(), x_cpu.grad()));
  }
}

// AllToAllLayout::exchange_counts with the device argument (comm/all_to_all.h: "the CUDA device
// for NCCL") gathers the count matrix on an NCCL group.
TEST_F(NcclCollectives, ExchangeCountsOnTheDevice) {
  const int P = nccl_->size();
  const int me = nccl_->rank();
  std::vector<int64_t> send(P);  // rows from me to p: (me + 2p) % 3
  for (int p = 0; p < P; ++p) send[p] = (me + 2 * p) % 3;
  const AllToAllLayout layout =
      AllToAllLayout::exchange_counts(*nccl_, send, kUnsetTimeout, device_);
  EXPECT_TRUE(layout.agreed());
  for (int s = 0; s < P; ++s) {
    for (int d = 0; d < P; ++d) EXPECT_EQ(layout.count(s, d), (s + 2 * d) % 3) << s << "->" << d;
  }
}

}  // namespace
}  // namespace switchyard::comm
