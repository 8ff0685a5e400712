// The planner's cost terms against hand-computed values (docs/planner.md has the formulas),
// the message functions of comm/a2a/exchange_messages.h on a crafted layout, the alpha-beta fit,
// and the cluster loader's one-line errors.
#include <cmath>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "comm/a2a/exchange_messages.h"
#include "core/errors.h"
#include "launch/plan/allreduce_cost.h"
#include "launch/plan/bench_predict.h"
#include "launch/plan/cluster_loader.h"
#include "launch/plan/compute_cost.h"
#include "launch/plan/fit_alpha_beta.h"
#include "launch/plan/link_cost.h"
#include "launch/plan/memory_cost.h"
#include "launch/plan/step_plan.h"

namespace switchyard::plan {
namespace {

// cnt[s][d] of a 2 x 2 group (rank = node * 2 + local).
const std::vector<int64_t> kMatrix = {1, 2, 3, 4,  //
                                      5, 6, 7, 8,  //
                                      9, 1, 2, 3,  //
                                      4, 5, 6, 7};

comm::TrafficCounters msgs(int64_t intra_m, int64_t intra_b, int64_t inter_m, int64_t inter_b) {
  comm::TrafficCounters t;
  t.intra_node_messages = intra_m;
  t.intra_node_bytes = intra_b;
  t.inter_node_messages = inter_m;
  t.inter_node_bytes = inter_b;
  return t;
}

TEST(ExchangeMessages, HandComputedOnACraftedLayout) {
  const auto l0 = comm::AllToAllLayout::from_count_matrix(0, 4, kMatrix);
  const auto l1 = comm::AllToAllLayout::from_count_matrix(1, 4, kMatrix);
  // Flat, rank 0: to 1 (same node) 2 rows; to 2, 3: 3 + 4 rows. Row = 10 bytes.
  auto f = comm::flat_exchange_messages(l0, {0, 0, 1, 1}, 10);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0], msgs(1, 20, 2, 70));
  // Hierarchical, rank 0: phase 1 to local 1 its rows for (0,1) and (1,1): 2 + 4; phase 2 to
  // node 1 the rows of (0,0) and (0,1) for (1,0) = rank 2: 3 + 7.
  auto h = comm::hierarchical_exchange_messages(l0, 2, 2, 10);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], msgs(1, 60, 0, 0));
  EXPECT_EQ(h[1], msgs(0, 0, 1, 100));
  // Inter-node first, rank 0: phase 1 to node 1 its rows for 2 and 3: 3 + 4; phase 2 to local
  // 1 the rows of (0,0) and (1,0) for (0,1): cnt[0][1] + cnt[2][1] = 2 + 1.
  auto i = comm::inter_first_exchange_messages(l0, 2, 2, 10);
  EXPECT_EQ(i[0], msgs(0, 0, 1, 70));
  EXPECT_EQ(i[1], msgs(1, 30, 0, 0));
  // Leader, rank 0 (leader): among leaders, node 0's rows for node 1: 3 + 4 + 7 + 8; scatter
  // to local 1 every row for rank 1: 2 + 6 + 1 + 5. Rank 1: gather, all its 26 rows.
  auto ld = comm::leader_exchange_messages(l0, 2, 2, 10);
  EXPECT_EQ(ld[0], msgs(0, 0, 0, 0));
  EXPECT_EQ(ld[1], msgs(0, 0, 1, 220));
  EXPECT_EQ(ld[2], msgs(1, 140, 0, 0));
  auto ld1 = comm::leader_exchange_messages(l1, 2, 2, 10);
  EXPECT_EQ(ld1[0], msgs(1, 260, 0, 0));
  EXPECT_EQ(ld1[1], msgs(0, 0, 0, 0));
  EXPECT_EQ(ld1[2], msgs(0, 0, 0, 0));
}

ClusterSpec two_link_cluster(Link::Scope scope, int nics) {
  ClusterSpec c;
  c.set_nodes(2);
  c.set_ranks_per_node(2);
  c.mutable_intra_node()->set_latency_us(10);
  c.mutable_intra_node()->set_bandwidth_gbps(1);
  c.mutable_intra_node()->set_scope(scope);
  c.mutable_inter_node()->set_latency_us(scope == Link::PER_HOST ? 10 : 20);
  c.mutable_inter_node()->set_bandwidth_gbps(scope == Link::PER_HOST ? 1 : 2);
  c.mutable_inter_node()->set_scope(scope);
  c.set_nics_per_node(nics);
  c.set_gemm_tflops_fp32(1);
  c.set_memory_bandwidth_gbps(100);
  c.set_memory_gib(1);
  return c;
}

TEST(LinkCost, PerRankLinksTakeTheSlowerOfIntraAndInter) {
  const ClusterSpec c = two_link_cluster(Link::PER_RANK, 2);
  const Layout l{4, 4, 2, 0};
  // intra: 10 us + max(1e6, 2e6) B / 1 GB/s = 2.01 ms; inter: max(2, 1) x 20 us +
  // max(4e6 / 2e9, 5e6 / (2 x 2e9)) = 2.04 ms; real nodes: max = 2.04 ms.
  const CommTime t = phase_time(c, l, {msgs(1, 1000000, 2, 4000000), msgs(1, 2000000, 1, 1000000)});
  EXPECT_NEAR(t.total(), 2.04e-3, 1e-12);
  EXPECT_NEAR(t.intra_s, 2.04e-3 * 2.01 / 4.05, 1e-12);
  EXPECT_NEAR(t.inter_s, 2.04e-3 * 2.04 / 4.05, 1e-12);
}

TEST(LinkCost, SharedHostAddsEveryRanksBytes) {
  const ClusterSpec c = two_link_cluster(Link::PER_HOST, 1);
  const Layout l{4, 4, 2, 1};  // 2 emulated nodes on 1 host: 4 ranks share 1 GB/s
  // 10 us + 1e6 B x 4 ranks / 1e9 = 4.01 ms.
  const CommTime t = phase_time(c, l, {msgs(1, 1000000, 0, 0), msgs(1, 1000000, 0, 0)});
  EXPECT_NEAR(t.total(), 4.01e-3, 1e-12);
  EXPECT_EQ(t.inter_s, 0);
}

TEST(LinkCost, WireLatencyIsPaidOncePerPhase) {
  ClusterSpec c = two_link_cluster(Link::PER_HOST, 1);
  c.mutable_inter_node()->set_wire_latency_us(1000);
  const Layout l{4, 4, 2, 2};  // 2 real hosts: intra and inter overlap (max)
  // inter: 2 messages x 10 us + 1000 us once + 2 x 1000 B x 2 ranks / 1e9 = 1024 us;
  // intra: 10 us + 1000 B x 2 / 1e9 = 12 us; max = 1024 us.
  const CommTime t = phase_time(c, l, {msgs(1, 1000, 2, 2000), msgs(1, 1000, 2, 2000)});
  EXPECT_NEAR(t.total(), 1024e-6, 1e-12);
  // A phase without inter-node messages pays no wire latency.
  EXPECT_NEAR(phase_time(c, l, {msgs(1, 1000, 0, 0), msgs(1, 1000, 0, 0)}).total(), 12e-6, 1e-12);
}

TEST(LinkCost, CpuHostsShareIntraNodeCopiesAndGemms) {
  // The namespace-emulated cluster: 2 nodes with their own links (physical_hosts 2) on one
  // machine (cpu_hosts 1): the 4 ranks' shared-memory copies and GEMMs share its cores.
  ClusterSpec c = two_link_cluster(Link::PER_HOST, 1);
  const Layout l{4, 4, 2, 2};
  EXPECT_EQ(ranks_per_cpu_host(c, l), 2);  // cpu_hosts unset: the layout's hosts
  // intra: 10 us + 1e6 B x 2 ranks / 1e9 = 2.01 ms.
  EXPECT_NEAR(phase_time(c, l, {msgs(1, 1000000, 0, 0), msgs(1, 1000000, 0, 0)}).total(), 2.01e-3,
              1e-12);
  c.set_cpu_hosts(1);
  EXPECT_EQ(ranks_per_cpu_host(c, l), 4);
  // intra: 10 us + 1e6 B x 4 ranks / 1e9 = 4.01 ms (both nodes copy through one machine).
  EXPECT_NEAR(phase_time(c, l, {msgs(1, 1000000, 0, 0), msgs(1, 1000000, 0, 0)}).total(), 4.01e-3,
              1e-12);
  // inter (PER_HOST, one link per node, not per machine): 10 us + 1e6 B x 2 ranks / 1e9.
  EXPECT_NEAR(phase_time(c, l, {msgs(0, 0, 1, 1000000), msgs(0, 0, 1, 1000000)}).total(), 2.01e-3,
              1e-12);
  // GEMMs: the machine's 1 TFLOP/s over its 4 ranks.
  c.set_compute_shared_by_host(true);
  EXPECT_NEAR(rank_device(c, l, ModelShape{}).flops, 0.25e12, 1);
}

TEST(A2aCost, BenchExchangeOnASharedHostHandComputed) {
  const ClusterSpec c = two_link_cluster(Link::PER_HOST, 1);
  const Layout l{4, 4, 2, 1};
  // Flat: intra 10 us + 1000 B x 4 / 1e9 = 14 us; inter 2 x 10 us + 2000 x 4 / 1e9 = 28 us.
  EXPECT_NEAR(predict_bench_a2a(c, l, A2aAlgorithm::kFlat, 1000).time.total(), 42e-6, 1e-12);
  // Hierarchical: two phases of one 2000 B message: 2 x (10 + 8) us.
  const ExchangeCost h = predict_bench_a2a(c, l, A2aAlgorithm::kHierarchical, 1000);
  EXPECT_NEAR(h.time.total(), 36e-6, 1e-12);
  EXPECT_EQ(h.rank0_total, msgs(1, 2000, 1, 2000));
  // Leader: gather (rank 1 sends 4000 B), leaders (4000 B), scatter (4000 B); each phase
  // 10 us + 2000 B average x 4 ranks / 1e9 = 18 us.
  EXPECT_NEAR(predict_bench_a2a(c, l, A2aAlgorithm::kLeader, 1000).time.total(), 54e-6, 1e-12);
}

TEST(A2aCost, UniformTopKNodeProbabilities) {
  // E = 8, k = 2, a node of 4 experts: 1 - C(4,2)/C(8,2) = 1 - 6/28.
  EXPECT_NEAR(prob_any_in_group(8, 4, 2), 1.0 - 6.0 / 28.0, 1e-15);
  EXPECT_NEAR(prob_any_in_group(8, 2, 2), 1.0 - 15.0 / 28.0, 1e-15);
  EXPECT_NEAR(prob_any_in_group(8, 8, 2), 1.0, 1e-15);
}

TEST(A2aCost, DedupSendsFewerInterNodeBytesThanHierarchicalForTheDefaultModel) {
  const ClusterSpec c = load_cluster("dgx_h100");
  ModelShape m;  // defaults: H 128, E 8, top-2, 16 x 64 tokens
  m.moe_layers = 1;
  const Layout l{4, 4, 2, 0};
  const MoeLayerComm hier = moe_layer_comm(c, l, m, A2aAlgorithm::kHierarchical);
  const MoeLayerComm dedup = moe_layer_comm(c, l, m, A2aAlgorithm::kHierarchicalDedup);
  // T = 256 tokens per rank, 512 B rows. Hierarchical: half of 2 x 256 rows leave the node, 4
  // exchanges: 4 x 256 x 512 B. Dedup: 256 x p_node rows to the other node per direction
  // (+ 32 B metadata going out), 2 directions x 2 (backward).
  EXPECT_NEAR(hier.inter_bytes_per_rank, 4.0 * 256 * 512, 4);
  const double p = 1.0 - 6.0 / 28.0;
  EXPECT_NEAR(dedup.inter_bytes_per_rank, 2.0 * (256 * p * (512 + 32) + 256 * p * 512), 4);
}

// Tutel (arXiv 2206.03382, Appendix A.5, Fig. 18) measured its 2DH all-to-all against NCCL's
// linear one on this hardware (8 x A100 + 8 x HDR per VM): at 1 MiB per GPU 2DH is faster from
// small scales; at 32 and 256 MiB it is slower at small scale and faster as the GPU count grows.
// The model on the matching preset has the same shape (docs/planner.md §5 has the figures).
TEST(A2aCost, HierarchicalVsFlatFollowsTutelsPublishedTrendOnItsTestbed) {
  const ClusterSpec c = load_cluster("azure_ndm_a100_v4");
  auto speedup = [&](int world, int64_t bytes_per_rank) {
    const Layout l{world, world, 8, 0};
    const int64_t per_peer = bytes_per_rank / world;
    return predict_bench_a2a(c, l, A2aAlgorithm::kFlat, per_peer).time.total() /
           predict_bench_a2a(c, l, A2aAlgorithm::kHierarchical, per_peer).time.total();
  };
  const int64_t mib = int64_t{1} << 20;
  EXPECT_GT(speedup(16, mib), 1.0);
  for (int64_t size : {32 * mib, 256 * mib}) {
    double last = 0;
    for (int world = 16; world <= 2048; world *= 2) {  // the gain grows with the GPU count
      const double s = speedup(world, size);
      if (world == 16) EXPECT_LT(s, 1.0) << size;
      if (world == 2048) EXPECT_GT(s, 1.0) << size;
      EXPECT_GT(s, last) << size << " " << world;
      last = s;
    }
  }
}

TEST(ComputeCost, RooflineIsComputeOrMemoryBound) {
  const RankDevice d{1e12, 1e11};
  EXPECT_NEAR(gemm_seconds(1000, 1000, 1000, 4, d), 2e-3, 1e-15);  // 2e9 FLOP / 1e12
  // [1, 1000] x [1000, 1000]: (1000 + 1e6 + 1000) x 4 B / 1e11 B/s.
  EXPECT_NEAR(gemm_seconds(1, 1000, 1000, 4, d), 1002000.0 * 4 / 1e11, 1e-15);
  ModelShape m;
  m.load_cv = 0.1;
  EXPECT_DOUBLE_EQ(expert_imbalance(m), 1.1);
  m.capacity_factor = 1.0;
  EXPECT_DOUBLE_EQ(expert_imbalance(m), 1.0);
  m.capacity_factor = 1.25;
  EXPECT_DOUBLE_EQ(expert_imbalance(m), 1.1);
}

TEST(ComputeCost, MoeLayerExpertsHandComputed) {
  ClusterSpec c = two_link_cluster(Link::PER_HOST, 1);
  c.set_gemm_tflops_fp32(0.1);
  c.set_compute_shared_by_host(true);
  const Layout l{2, 2, 2, 1};  // 2 ranks share the host: 5e10 FLOP/s each
  MoeLayerBench b;             // T 4096, d 256, F 1024, E 8, top-2
  b.load_cv = 0;
  const MoeLayerPrediction p = predict_bench_moe_layer(c, l, A2aAlgorithm::kFlat, b);
  // Experts: 4 local, 8192 rows -> 2048 each; 3 x 4 x 2 GEMMs of 2 x 2048 x 256 x 1024 FLOP.
  ModelShape m;
  m.hidden = 256;
  m.expert_ffn = 1024;
  m.experts = 8;
  m.top_k = 2;
  m.load_cv = 0;
  m.seq = 1;
  m.global_batch = 4096 * 2;
  const ComputeTime t = moe_layer_compute(c, l, m);
  EXPECT_NEAR(t.expert_s, 3.0 * 4 * 2 * (2.0 * 2048 * 256 * 1024) / 5e10, 1e-12);
  EXPECT_NEAR(p.compute_s, t.total(), 1e-15);
}

TEST(AllReduceCost, RingHandComputed) {
  const ClusterSpec c = two_link_cluster(Link::PER_RANK, 2);
  const Layout l{4, 4, 4, 0};
  // Within a node: 2 x 3 x 10 us + 2 x 3/4 x 1e6 B / 1 GB/s = 1.56 ms.
  EXPECT_NEAR(allreduce_time(c, l, 1e6, 4, 4).ring_s, 1.56e-3, 1e-12);
  EXPECT_EQ(allreduce_time(c, l, 1e6, 1, 1).best(), 0);
}

TEST(MemoryCost, ParameterCountHandComputed) {
  ModelShape m;
  m.vocab = 10;
  m.hidden = 4;
  m.layers = 2;
  m.seq = 3;
  m.dense_ffn = 8;
  m.moe_layers = 1;
  m.experts = 4;
  m.expert_ffn = 6;
  // embeddings 10 x 4 + 3 x 4 = 52; attention 4 x 16 + 16 = 80 and norms 16 per block; one
  // dense FFN 2 x 4 x 8 + 8 + 4 = 76; router 16; final norm 8 -> 344. Experts 4 x (48 + 10).
  const ParamCount p = param_count(m, Layout{2, 2, 2, 0});
  EXPECT_DOUBLE_EQ(p.dense, 344);
  EXPECT_DOUBLE_EQ(p.expert_total, 232);
  EXPECT_DOUBLE_EQ(p.expert_local, 116);
  const MemoryBytes mem = memory_per_rank(m, Layout{2, 2, 2, 0});
  EXPECT_DOUBLE_EQ(mem.weights + mem.grads + mem.optimizer, 16.0 * (344 + 116));
}

TEST(AlphaBetaFit, RecoversKnownFigures) {
  std::vector<LinearSample> s;
  for (int i = 1; i <= 8; ++i) {
    LinearSample x;
    x.a = i * 3;           // messages
    x.b = 1000.0 * i * i;  // bytes
    x.c = 1 + i % 3;       // phases
    x.measured_s = 5e-6 * x.a + 1e-9 * x.b + 2e-5 * x.c;
    s.push_back(x);
  }
  const AlphaBetaFit f = fit_alpha_beta(s);
  EXPECT_NEAR(f.alpha_s, 5e-6, 1e-12);
  EXPECT_NEAR(f.inv_bandwidth_s_per_byte, 1e-9, 1e-15);
  EXPECT_NEAR(f.overhead_s, 2e-5, 1e-11);
  EXPECT_LT(f.max_abs_rel_error, 1e-9);
}

TEST(StepPlan, RecommendsTheFastestFittingCandidate) {
  const ClusterSpec c = load_cluster("dgx_h100");
  ModelShape m;
  m.moe_layers = 2;
  const std::vector<StepPrediction> all = plan_candidates(c, m, 16, 8, 0);
  ASSERT_FALSE(all.empty());
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].step_s, all[i].step_s);
  const Recommendation r = recommend(all, 0.0);
  ASSERT_GE(r.index, 0);
  EXPECT_EQ(all[r.index].capacity_factor, 0.0);
  for (const StepPrediction& p : all) {
    if (p.capacity_factor == 0.0 && p.fits) EXPECT_GE(p.step_s, all[r.index].step_s);
  }
  EXPECT_EQ(r.reason.find('\n'), std::string::npos);
}

std::string load_error(const std::string& text) {
  const std::string path = ::testing::TempDir() + "/cluster_bad.pbtxt";
  std::ofstream(path) << text;
  try {
    load_cluster(path);
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(path), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "no error for: " << text;
  return "";
}

const char* kGood =
    "nodes: 2 ranks_per_node: 2\n"
    "intra_node { latency_us: 1 bandwidth_gbps: 10 }\n"
    "inter_node { latency_us: 5 bandwidth_gbps: 1 }\n"
    "gemm_tflops_fp32: 1 memory_bandwidth_gbps: 10 memory_gib: 4\n";

TEST(ClusterLoader, PresetsLoadAndBadFilesAreOneLine) {
  for (const std::string& name : preset_names()) EXPECT_NO_THROW(load_cluster(name)) << name;
  EXPECT_GE(preset_names().size(), 5u);
  const std::string good = ::testing::TempDir() + "/cluster_good.pbtxt";
  std::ofstream(good) << kGood;
  EXPECT_EQ(load_cluster(good).inter_node().bandwidth_gbps(), 1);
  EXPECT_NE(load_error(std::string(kGood) + "bogus: 1\n").find("field 'bogus': unknown field"),
            std::string::npos);
  std::string neg = kGood;
  neg.replace(neg.find("bandwidth_gbps: 1 }"), 19, "bandwidth_gbps: -1 }");
  EXPECT_NE(load_error(neg).find("field 'inter_node.bandwidth_gbps': must be > 0"),
            std::string::npos);
  std::string missing = kGood;
  missing.replace(missing.find("gemm_tflops_fp32: 1 "), 20, "");
  EXPECT_NE(load_error(missing).find("field 'gemm_tflops_fp32': missing"), std::string::npos);
  EXPECT_NE(load_error("nodes: \"two\"\n").find("nodes"), std::string::npos);
  try {
    load_cluster("no_such_preset");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown preset 'no_such_preset'"), std::string::npos);
  }
  EXPECT_THROW(load_cluster(::testing::TempDir() + "/does-not-exist.pbtxt"), ConfigError);
  EXPECT_THROW(load_cluster(::testing::TempDir()), ConfigError);  // a directory
}

}  // namespace
}  // namespace switchyard::plan
