// `switchyard plan --from-run`: the router figures read from a run's metrics (later half of the
// steps, ratios to uniform routing on the run's layout) against hand-computed values, the model
// scaling uniform routing by them on another layout, and the one-line errors.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/errors.h"
#include "launch/plan/a2a_cost.h"
#include "launch/plan/cluster_loader.h"
#include "launch/plan/measured_routing.h"

namespace switchyard::plan {
namespace {

// One step record with two MoE layers: load CV, cross-node fraction, rows sent to other nodes,
// and 64 assignments (32 tokens at top-2) per layer.
std::string step(int s, double cv0, double cv1, double f0, double f1, int rows0, int rows1) {
  auto layer = [](double cv, double f, int rows) {
    return "{\"load_cv\":" + std::to_string(cv) + ",\"cross_node_fraction\":" + std::to_string(f) +
           ",\"inter_node_rows\":" + std::to_string(rows) +
           ",\"tokens_per_expert\":[10,6,8,8,9,7,8,8]}";
  };
  return "{\"step\":" + std::to_string(s) + ",\"loss\":3,\"moe\":{\"layers\":[" +
         layer(cv0, f0, rows0) + "," + layer(cv1, f1, rows1) + "]}}\n";
}

// Four steps; the first half (steps 1-2) must be ignored: their figures are far off.
const std::string kMetrics = step(1, 9, 9, 0.9, 0.9, 99, 99) + step(2, 9, 9, 0.9, 0.9, 99, 99) +
                             step(3, 0.2, 0.4, 0.25, 0.35, 16, 20) +
                             step(4, 0.3, 0.1, 0.30, 0.30, 12, 16) +
                             "{\"final\":true,\"step\":4,\"val_loss\":2.5}\n";

RunLayout two_by_two(bool dedup) {
  RunLayout l;
  l.ep = 4;  // 2 nodes x 2 ranks
  l.ranks_per_node = 2;
  l.experts = 8;
  l.top_k = 2;
  l.node_dedup = dedup;
  return l;
}

TEST(MeasuredRouting, LaterHalfAndRatiosToUniformRouting) {
  const MeasuredRouting r =
      measured_routing(launch::parse_run_metrics(kMetrics, "m.jsonl"), two_by_two(true));
  EXPECT_EQ(r.first_step, 3);
  EXPECT_EQ(r.last_step, 4);
  EXPECT_EQ(r.records, 2);
  EXPECT_NEAR(*r.load_cv, (0.2 + 0.4 + 0.3 + 0.1) / 4, 1e-12);
  // Cross-node fraction 0.3 on average; uniform on 2 nodes x 2 ranks is (4 - 2) / 4 = 0.5.
  EXPECT_NEAR(*r.inter_node_locality, 0.3 / 0.5, 1e-12);
  // Remote nodes per token: rows / 32 tokens, mean (16 + 20 + 12 + 16) / 4 / 32 = 0.5; uniform
  // top-2 of 8 experts with 4 on the other node: 1 - C(4,2) / C(8,2) = 22 / 28.
  EXPECT_NEAR(*r.remote_nodes_locality, 0.5 / (22.0 / 28.0), 1e-12);
}

TEST(MeasuredRouting, NoRemoteNodeFigureWithoutDedupAndNoLocalityOnOneNode) {
  const launch::RunMetrics m = launch::parse_run_metrics(kMetrics, "m.jsonl");
  const MeasuredRouting flat = measured_routing(m, two_by_two(false));
  EXPECT_TRUE(flat.inter_node_locality.has_value());
  EXPECT_FALSE(flat.remote_nodes_locality.has_value());  // rows are per assignment there
  RunLayout one_node = two_by_two(true);
  one_node.ranks_per_node = 4;
  const MeasuredRouting r = measured_routing(m, one_node);
  EXPECT_TRUE(r.load_cv.has_value());
  EXPECT_FALSE(r.inter_node_locality.has_value());
  EXPECT_FALSE(r.remote_nodes_locality.has_value());
}

TEST(MeasuredRouting, LocalityScalesUniformRoutingOnAnotherLayout) {
  const ClusterSpec c = load_cluster("dgx_h100");
  ModelShape m;
  m.moe_layers = 1;
  const Layout l{16, 16, 4, 0};  // 4 nodes x 4 ranks: uniform sends 12 / 16 of the rows off
  ModelShape local = m;
  local.inter_node_locality = 0.6;
  ModelShape absolute = m;
  absolute.inter_node_fraction = 0.6 * 12.0 / 16.0;
  const double a = moe_layer_comm(c, l, local, A2aAlgorithm::kFlat).inter_bytes_per_rank;
  EXPECT_NEAR(a, moe_layer_comm(c, l, absolute, A2aAlgorithm::kFlat).inter_bytes_per_rank, 1e-6);
  EXPECT_NEAR(a / moe_layer_comm(c, l, m, A2aAlgorithm::kFlat).inter_bytes_per_rank, 0.6, 0.01);
  // Dedup: remote-node locality 0.5 halves the phase-A rows (the metadata scales with them).
  ModelShape fewer_nodes = m;
  fewer_nodes.remote_nodes_locality = 0.5;
  const double d = moe_layer_comm(c, l, m, A2aAlgorithm::kHierarchicalDedup).inter_bytes_per_rank;
  EXPECT_NEAR(
      moe_layer_comm(c, l, fewer_nodes, A2aAlgorithm::kHierarchicalDedup).inter_bytes_per_rank,
      0.5 * d, 0.01 * d);
}

TEST(MeasuredRouting, BadRunDirectoriesAreOneLineErrors) {
  const std::string dir = ::testing::TempDir() + "/measured_routing_run";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto error_of = [&](const std::string& run) -> std::string {
    try {
      read_measured_routing(run);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(dir).find("config.pbtxt"), std::string::npos);  // not a run directory
  std::ofstream(dir + "/config.pbtxt")
      << "parallel { expert_parallel_size: 4 world_size: 4 }\ncomm { ranks_per_node: 2 }\n"
         "model { moe_every_n_layers: 1 moe { num_experts: 8 } }\n";
  EXPECT_NE(error_of(dir).find("metrics.jsonl"), std::string::npos);  // no metrics yet
  std::ofstream(dir + "/metrics.jsonl") << "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n";
  EXPECT_NE(error_of(dir).find("no step record with MoE layers"), std::string::npos);  // dense
  std::ofstream(dir + "/metrics.jsonl") << kMetrics;
  const MeasuredRouting r = read_measured_routing(dir);
  EXPECT_NEAR(*r.inter_node_locality, 0.6, 1e-12);
  EXPECT_FALSE(r.remote_nodes_locality.has_value());  // the config has no dedup
  EXPECT_NE(error_of(dir + "/metrics.jsonl").find("is a regular file, not a run directory"),
            std::string::npos);
  for (const std::string& e : {error_of(dir + "/nope"), error_of(dir + "/metrics.jsonl")}) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace switchyard::plan
