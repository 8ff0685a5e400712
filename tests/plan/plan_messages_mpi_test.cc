// The planner's message counts against what the comm layer really sends on a real run: every
// strategy runs over communicators wrapped in a recorder of the blocks each call puts on the
// wire (peer, rows), and per phase the messages (distinct peers other than the rank itself)
// and bytes must equal comm/a2a/exchange_messages.h (which the planner prices) and the
// strategy's own TrafficCounters; the planner's expected-layout exchange (a2a_cost.h) must give
// the same per-rank totals as the strategies' counters for the uniform layout `bench a2a` uses.
#include <mpi.h>

#include <map>
#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/exchange_messages.h"
#include "comm/a2a/exchange_rows.h"
#include "comm/a2a/make_all_to_all.h"
#include "comm/topology.h"
#include "launch/plan/bench_predict.h"
#include "launch/plan/cluster_loader.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::plan {
namespace {

// One call's bytes per peer, by the group it ran on.
struct WireCall {
  std::string group;
  int rank = 0;
  std::map<int, int64_t> bytes_to_peer;
};

class WireRecorder : public comm::Communicator {
 public:
  WireRecorder(std::shared_ptr<comm::Communicator> inner,
               std::shared_ptr<std::vector<WireCall>> calls)
      : inner_(std::move(inner)), calls_(std::move(calls)) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string_view backend_name() const override { return inner_->backend_name(); }
  const std::string& name() const override { return inner_->name(); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }
  std::shared_ptr<comm::Work> all_reduce(at::Tensor& t, const comm::AllReduceOptions& o) override {
    return inner_->all_reduce(t, o);
  }
  std::shared_ptr<comm::Work> all_gather(at::Tensor& out,
                                         const at::Tensor& in,
                                         const comm::AllGatherOptions& o) override {
    return inner_->all_gather(out, in, o);
  }
  std::shared_ptr<comm::Work> all_to_all(at::Tensor& out,
                                         const at::Tensor& in,
                                         const std::vector<int64_t>& recv_counts,
                                         const std::vector<int64_t>& send_counts,
                                         const comm::AllToAllOptions& o) override {
    WireCall c{name(), rank(), {}};
    for (size_t p = 0; p < send_counts.size(); ++p) {
      if (static_cast<int>(p) != rank() && send_counts[p] > 0) {
        c.bytes_to_peer[static_cast<int>(p)] += send_counts[p] * comm::row_bytes(in);
      }
    }
    calls_->push_back(c);
    return inner_->all_to_all(out, in, recv_counts, send_counts, o);
  }
  std::shared_ptr<comm::Work> exchange_blocks(const std::vector<at::Tensor>& outs,
                                              const std::vector<at::Tensor>& ins,
                                              const std::vector<comm::BlockTransfer>& recvs,
                                              const std::vector<comm::BlockTransfer>& sends,
                                              const comm::AllToAllOptions& o) override {
    WireCall c{name(), rank(), {}};
    const int64_t row = comm::row_bytes(ins.empty() ? outs.front() : ins.front());
    for (const comm::BlockTransfer& b : sends) {
      if (b.peer != rank() && b.rows > 0) c.bytes_to_peer[b.peer] += b.rows * row;
    }
    calls_->push_back(c);
    return inner_->exchange_blocks(outs, ins, recvs, sends, o);
  }
  std::shared_ptr<comm::Work> broadcast(at::Tensor& t,
                                        int root,
                                        const comm::BroadcastOptions& o) override {
    return inner_->broadcast(t, root, o);
  }
  std::shared_ptr<comm::Work> barrier(const comm::BarrierOptions& o) override {
    return inner_->barrier(o);
  }
  std::shared_ptr<comm::Communicator> split(int color, int key, const std::string& n) override {
    return std::make_shared<WireRecorder>(inner_->split(color, key, n), calls_);
  }

 private:
  std::shared_ptr<comm::Communicator> inner_;
  std::shared_ptr<std::vector<WireCall>> calls_;
};

// A call's messages: intra- or inter-node by the group (flat's EP group: by the peer's node).
comm::TrafficCounters messages_of(const WireCall& c, int G) {
  comm::TrafficCounters t;
  for (const auto& [peer, bytes] : c.bytes_to_peer) {
    bool same_node = c.group.find("intra") != std::string::npos;
    if (c.group == "expert") same_node = peer / G == c.rank / G;
    t.record_send(same_node, bytes);
  }
  return t;
}

TEST(PlanMessages, WireMessagesEqualExchangeMessagesAndCounters) {
  auto raw_world = comm::testing::test_world();
  const int W = raw_world->size();
  if (W < 4) GTEST_SKIP() << "needs >= 4 ranks";
  auto calls = std::make_shared<std::vector<WireCall>>();
  auto world = std::make_shared<WireRecorder>(raw_world, calls);
  std::mt19937_64 rng(7);
  for (int G : {2, W / 2}) {
    if (W % G != 0) continue;
    const int N = W / G;
    SCOPED_TRACE(std::to_string(N) + " x " + std::to_string(G));
    const comm::ProcessGroups groups =
        comm::build_process_groups(world, comm::make_emulated_topology(world->rank(), W, G), W);
    for (int trial = 0; trial < 5; ++trial) {
      // The same random matrix on every rank (same seed), zeros included.
      std::vector<int64_t> m(static_cast<size_t>(W) * W);
      for (auto& v : m) v = static_cast<int64_t>(rng() % 5) * (rng() % 3 == 0 ? 0 : 1);
      const comm::AllToAllLayout layout =
          comm::AllToAllLayout::from_agreed_count_matrix(world->rank(), W, m);
      const int64_t H = 3;
      const at::Tensor x = at::ones({layout.total_send_rows(), H}, at::kFloat);
      const int64_t row = H * 4;
      struct Case {
        comm::AllToAllAlgorithm algorithm;
        std::vector<comm::TrafficCounters> expected;
      };
      std::vector<int> node_of(W);
      for (int d = 0; d < W; ++d) node_of[d] = d / G;
      const std::vector<Case> cases = {
          {comm::AllToAllAlgorithm::kFlat, comm::flat_exchange_messages(layout, node_of, row)},
          {comm::AllToAllAlgorithm::kHierarchical,
           comm::hierarchical_exchange_messages(layout, N, G, row)},
          {comm::AllToAllAlgorithm::kLeader, comm::leader_exchange_messages(layout, N, G, row)},
          {comm::AllToAllAlgorithm::kInterFirst,
           comm::inter_first_exchange_messages(layout, N, G, row)}};
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string(comm::algorithm_name(c.algorithm)));
        auto a2a = comm::make_all_to_all(c.algorithm, groups);
        calls->clear();
        a2a->exchange(x, layout);
        // Phases that did not run on this rank (the leader's exchange on a non-leader) have
        // no wire call and no expected messages.
        std::vector<comm::TrafficCounters> wire;
        for (const WireCall& call : *calls) wire.push_back(messages_of(call, G));
        std::vector<comm::TrafficCounters> expected;
        comm::TrafficCounters expected_total;
        for (const comm::TrafficCounters& t : c.expected) expected_total += t;
        comm::TrafficCounters wire_total;
        for (const comm::TrafficCounters& t : wire) wire_total += t;
        EXPECT_EQ(wire_total.to_string(), expected_total.to_string());
        comm::TrafficCounters counted = a2a->traffic();
        counted.exchanges = 0;
        EXPECT_EQ(counted.to_string(), expected_total.to_string());
        // Phase by phase where every phase ran (flat, hierarchical, inter-first).
        if (c.algorithm != comm::AllToAllAlgorithm::kLeader) {
          ASSERT_EQ(wire.size(), c.expected.size());
          for (size_t p = 0; p < wire.size(); ++p) {
            EXPECT_EQ(wire[p].to_string(), c.expected[p].to_string()) << "phase " << p;
          }
        }
      }
    }
  }
}

// The planner's expected layout of `bench a2a` (every rank sends B bytes to every rank): rank
// 0's predicted messages equal what the strategies count on rank 0 of a real exchange.
TEST(PlanMessages, PlannerUniformExchangeEqualsCounters) {
  auto world = comm::testing::test_world();
  const int W = world->size();
  if (W < 4) GTEST_SKIP() << "needs >= 4 ranks";
  const ClusterSpec cluster = load_cluster("this_machine");
  for (int G : {2, W / 2}) {
    if (W % G != 0) continue;
    SCOPED_TRACE(std::to_string(W / G) + " x " + std::to_string(G));
    const comm::ProcessGroups groups =
        comm::build_process_groups(world, comm::make_emulated_topology(world->rank(), W, G), W);
    const int64_t rows = 5;
    const int64_t H = 8;
    const int64_t bytes_per_peer = rows * H * 4;
    const comm::AllToAllLayout layout =
        comm::AllToAllLayout::exchange_counts(*groups.expert, std::vector<int64_t>(W, rows));
    const at::Tensor x = at::ones({rows * W, H}, at::kFloat);
    const Layout l{W, W, G, 1};
    for (auto [alg, pa] :
         {std::pair{comm::AllToAllAlgorithm::kFlat, A2aAlgorithm::kFlat},
          std::pair{comm::AllToAllAlgorithm::kHierarchical, A2aAlgorithm::kHierarchical},
          std::pair{comm::AllToAllAlgorithm::kLeader, A2aAlgorithm::kLeader}}) {
      auto a2a = comm::make_all_to_all(alg, groups);
      a2a->exchange(x, layout);
      comm::TrafficCounters counted = a2a->traffic();
      counted.exchanges = 0;
      // Rank 0 of the world is EP rank 0: compare there (the planner reports EP rank 0).
      if (world->rank() == 0) {
        const ExchangeCost predicted = predict_bench_a2a(cluster, l, pa, bytes_per_peer);
        EXPECT_EQ(predicted.rank0_total.to_string(), counted.to_string()) << a2a_name(pa);
      }
    }
  }
}

}  // namespace
}  // namespace switchyard::plan
