// Gold equivalence of the pipelined MoE exchange (mpi; comm.overlap_chunks, docs/overlap.md): a
// layer whose exchange is cut into C chunks and overlapped with the experts on a worker thread
// gives the same routing, outputs, input gradients and parameter gradients (after gradient
// synchronization) as the same layer without overlap and as the single-process layer on the
// rank-ordered concatenation of the tokens, for the flat, hierarchical, leader and
// inter-node-first all-to-alls, several routers, dropless and capacity, a rank with zero tokens
// and more chunks than some blocks have rows; np 4 (2 nodes x 2) and np 8 (2 x 4).
// The pipelined pass on the worker thread equals the same pass run inline bit for bit. Against the
// plain layer the forward is equal up to float rounding only: each row meets the same weights and
// the combine keeps the plan's order of sums, but the BLAS rounds a row's product differently
// for a different number of rows in the matrix product.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/exchange_worker.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/all_to_all_dispatcher.h"
#include "models/moe/moe_builder.h"
#include "models/moe/pipelined_expert_pass.h"
#include "tests/models/moe_mpi_test_util.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;
using testing::sync_gradients;
using testing::world_size;

constexpr double kTolerance = 1e-6;
constexpr int64_t kSeq = 4;

struct Shape {
  int ranks_per_node = 2;
  int ep = 4;
  std::string name;
};

struct Case {
  std::string name;
  MoEBuildOptions options;
  int chunks = 3;
  int64_t tokens_per_rank = 12;
  int empty_rank = -1;
};

struct LayerRun {
  MoEOutput out;
  at::Tensor input_grad;
  MoELayer layer = nullptr;
};

void run_case(const Case& c, const Shape& setup, comm::AllToAllAlgorithm algorithm) {
  SCOPED_TRACE(setup.name + " " + std::string(comm::algorithm_name(algorithm)) + " " + c.name +
               " chunks " + std::to_string(c.chunks));
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = world->size();
  const int rank = world->rank();
  const comm::ProcessGroups groups = comm::build_process_groups(
      world, comm::make_emulated_topology(rank, size, setup.ranks_per_node), setup.ep);
  auto a2a = comm::make_all_to_all(algorithm, groups);
  const int nodes = groups.expert_num_nodes;
  const int per_node = groups.expert_ranks_per_node;

  std::vector<int64_t> sizes(static_cast<size_t>(size), c.tokens_per_rank);
  if (c.empty_rank >= 0) sizes[static_cast<size_t>(c.empty_rank)] = 0;
  std::vector<int64_t> rank_nodes;
  int64_t total = 0, offset = 0, nonempty = 0;
  for (int r = 0; r < size; ++r) {
    if (r == rank) offset = total;
    total += sizes[static_cast<size_t>(r)];
    nonempty += sizes[static_cast<size_t>(r)] > 0;
    rank_nodes.push_back((r % setup.ep) / per_node);
  }
  const int64_t mine = sizes[static_cast<size_t>(rank)];
  MoEBuildOptions options = c.options;
  options.router.num_nodes = nodes;
  options.layer.num_nodes = nodes;
  const int64_t hidden = options.layer.hidden_size;
  const at::Tensor x = make_tokens(total, hidden, 31);
  const at::Tensor g = make_tokens(total, hidden, 32);

  auto distributed = [&](int chunks) {
    LayerRun run;
    AuxLossCollector aux;
    MoEParallel parallel{groups.expert, a2a, world};
    parallel.overlap_chunks = chunks;
    run.layer = build_moe_layer(options, parallel, &aux);
    at::Tensor input = x.narrow(0, offset, mine).clone().requires_grad_();
    MoEForwardArgs args;
    args.step = 3;
    run.out = run.layer->forward(input, args);
    ((run.out.output * g.narrow(0, offset, mine)).sum() + aux.weighted_sum()).backward();
    sync_gradients(run.layer, groups);
    run.input_grad = input.grad();
    return run;
  };
  const LayerRun overlapped = distributed(c.chunks);
  const LayerRun plain = distributed(1);

  AuxLossCollector ref_aux;
  MoEBuildOptions ref_options = options;
  ref_options.layer.capacity.rectify.expert_parallel_size = setup.ep;
  MoELayer ref = build_moe_layer(ref_options, MoEParallel{}, &ref_aux);
  const at::Tensor x_ref = x.clone().requires_grad_();
  MoEForwardArgs ref_args;
  ref_args.step = 3;
  ref_args.group_sizes = sizes;
  ref_args.group_nodes = rank_nodes;
  MoEOutput ref_out = ref->forward(x_ref, ref_args);
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(nonempty)).backward();

  EXPECT_TRUE(at::equal(overlapped.layer->last_plan().keep, plain.layer->last_plan().keep));
  EXPECT_TRUE(
      at::equal(overlapped.layer->last_plan().keep, ref->last_plan().keep.narrow(0, offset, mine)));
  if (mine > 0) {
    EXPECT_LT(relative_error(overlapped.out.output, plain.out.output), kTolerance)
        << "overlapped vs plain";
    const at::Tensor ref_slice = ref_out.output.narrow(0, offset, mine);
    EXPECT_LT(relative_error(overlapped.out.output, ref_slice), kTolerance) << "vs reference";
    const at::Tensor ref_grad = x_ref.grad().narrow(0, offset, mine);
    EXPECT_LT(relative_error(overlapped.input_grad, ref_grad), kTolerance) << "input grad";
    EXPECT_LT(relative_error(overlapped.input_grad, plain.input_grad), kTolerance) << "input grad";
  }
  auto ref_params = ref->named_parameters();
  auto plain_params = plain.layer->named_parameters();
  const int64_t local = options.layer.num_experts / setup.ep;
  const int64_t first = groups.expert->rank() * local;
  for (auto& item : overlapped.layer->named_parameters()) {
    at::Tensor got = item.value().grad();
    at::Tensor expected = ref_params[item.key()].grad();
    ASSERT_EQ(got.defined(), expected.defined()) << item.key();
    if (!got.defined()) continue;
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    EXPECT_LT(relative_error(got, expected), kTolerance) << item.key() << " vs reference";
    EXPECT_LT(relative_error(got, plain_params[item.key()].grad()), kTolerance)
        << item.key() << " vs plain";
  }
  // The statistics the trainer logs do not depend on the pipelining.
  EXPECT_EQ(overlapped.out.stats.cross_node_rows, plain.out.stats.cross_node_rows);
  EXPECT_EQ(overlapped.out.stats.inter_node_rows, plain.out.stats.inter_node_rows);
}

MoEBuildOptions options_for(const std::string& router,
                            int64_t experts,
                            int64_t top_k,
                            double capacity_factor) {
  testing::LayerSpec s;
  s.router = router;
  s.experts = experts;
  s.top_k = top_k;
  s.hidden = 16;
  s.ffn = 24;
  s.normalize = router != "smile";
  s.seq_len = kSeq;
  MoEBuildOptions o = testing::build_options(s);
  if (router == "smile") {
    o.router.smile.capacity_factor = capacity_factor;
  } else {
    o.layer.capacity.capacity_factor = capacity_factor;
  }
  return o;
}

std::vector<Case> cases(int64_t experts) {
  std::vector<Case> out;
  struct R {
    std::string router;
    int64_t k;
    double cf;
  };
  const R routers[] = {{"top_k", 2, 0.0},
                       {"top_k", 2, 1.0},
                       {"expert_choice", 2, 0.0},
                       {"smile", 1, 0.0},
                       {"locmoe", 2, 1.0}};
  for (const R& r : routers) {
    Case c;
    c.options = options_for(r.router, experts, r.k, r.cf);
    c.name = r.router + " k" + std::to_string(r.k) + (r.cf > 0 ? " capacity" : " dropless");
    out.push_back(c);
  }
  for (int chunks : {2, 7}) {
    Case empty;
    empty.options = options_for("top_k", experts, 2, 0.0);
    empty.empty_rank = 1;
    empty.chunks = chunks;
    empty.tokens_per_rank = 5;  // 7 chunks: most blocks have fewer rows than chunks
    empty.name = "top_k empty rank";
    out.push_back(empty);
  }
  return out;
}

const comm::AllToAllAlgorithm kAlgorithms[] = {
    comm::AllToAllAlgorithm::kFlat, comm::AllToAllAlgorithm::kHierarchical,
    comm::AllToAllAlgorithm::kLeader, comm::AllToAllAlgorithm::kInterFirst};

TEST(OverlapGold, FourRanksTwoNodesOfTwo) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  const Shape setup{2, 4, "np4 2x2"};
  for (comm::AllToAllAlgorithm algorithm : kAlgorithms) {
    for (const Case& c : cases(8)) run_case(c, setup, algorithm);
  }
}

TEST(OverlapGold, EightRanksTwoNodesOfFour) {
  if (world_size() != 8) GTEST_SKIP() << "needs 8 ranks";
  const Shape setup{4, 8, "np8 2x4"};
  for (comm::AllToAllAlgorithm algorithm : kAlgorithms) {
    for (const Case& c : cases(16)) run_case(c, setup, algorithm);
  }
}

// The pipelined pass on a worker thread == the same pass inline, bit for bit, forward and
// backward (input and expert weight gradients); and == the unpipelined pass in the forward (to
// rounding).
TEST(OverlapGold, WorkerThreadEqualsInlineBitForBit) {
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = world->size();
  const comm::ProcessGroups groups = comm::build_process_groups(
      world, comm::make_emulated_topology(world->rank(), size, size >= 4 ? 2 : 1), size);
  auto a2a = comm::make_all_to_all(comm::AllToAllAlgorithm::kFlat, groups);
  MoEBuildOptions options = options_for("top_k", 2 * size, 2, 0.0);
  AuxLossCollector aux;
  MoEParallel parallel{groups.expert, a2a, world};
  MoELayer layer = build_moe_layer(options, parallel, &aux);
  const int64_t hidden = options.layer.hidden_size;
  const at::Tensor x = make_tokens(10, hidden, 40 + world->rank());
  MoEForwardArgs args;
  layer->forward(x, args);  // for the plan
  DispatchPlan plan = layer->last_plan();
  plan.weights = plan.weights.detach();  // the router's graph is not part of this comparison
  auto worker = std::make_shared<comm::ExchangeWorker>();
  PipelinedPass pass{groups.host_expert.get(), a2a, 3, nullptr};
  auto run = [&](std::shared_ptr<comm::ExchangeWorker> w) {
    pass.worker = std::move(w);
    layer->zero_grad();
    at::Tensor input = x.clone().requires_grad_();
    ExpertPass p = pipelined_expert_pass(input, plan, layer->experts(), pass);
    (p.combined * x).sum().backward();
    return std::vector<at::Tensor>{p.combined.detach(), input.grad(),
                                   layer->experts().w1().grad().clone(),
                                   layer->experts().w2().grad().clone()};
  };
  const std::vector<at::Tensor> inline_run = run(nullptr);
  const std::vector<at::Tensor> worker_run = run(worker);
  for (size_t i = 0; i < inline_run.size(); ++i) {
    EXPECT_TRUE(at::equal(inline_run[i], worker_run[i])) << "output / grads " << i;
  }
  AllToAllDispatcher unpipelined(groups.host_expert, a2a, options.layer.num_experts);
  const ExpertPass plain = unpipelined.run_experts(x, plan, layer->experts());
  EXPECT_LT(relative_error(plain.combined, worker_run[0]), kTolerance);
}

}  // namespace
}  // namespace switchyard::models
