// Reports (launch/report/): hand-made metrics.jsonl files of two seeds of one sweep group and
// one run of an older version, with every metric computed by hand; mean and sample std; the
// tables, the plots, and the tolerance for cut lines, unknown and missing fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "launch/report/aggregate.h"
#include "launch/report/report_plots.h"
#include "launch/report/report_tables.h"
#include "launch/report/run_discovery.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Seed 1: four steps (a cut line in the middle, an unknown field), a final evaluation.
const char* kRunA =
    R"({"step":1,"loss":3.0,"tokens_per_second":100,"moe":{"layers":[{"load_cv":0.5,"dropped_fraction":0.1,"tokens_per_expert":[3,1],"inter_node_bytes":10},{"load_cv":0.3,"dropped_fraction":0.0,"tokens_per_expert":[2,2],"inter_node_bytes":30}],"a2a":{"intra_node_bytes":300,"inter_node_bytes":100}}}
{"step":2,"loss":2.5,"tokens_per_second":200,"val_loss":2.8,"moe":{"layers":[{"load_cv":0.2,"dropped_fraction":0.05,"tokens_per_expert":[1,3],"inter_node_bytes":20},{"load_cv":0.4,"dropped_fraction":0.15,"tokens_per_expert":[4,0],"inter_node_bytes":20}],"a2a":{"intra_node_bytes":100,"inter_node_bytes":100}},"routing_probe":{"layers":[{"fluctuation":null,"dirichlet_distance":0.2},{"fluctuation":null,"dirichlet_distance":0.4}]}}
{"step":3,"loss":2.
{"step":3,"loss":2.2,"tokens_per_second":400,"something_new":{"x":[1,2]},"moe":{"layers":[{"load_cv":0.6,"dropped_fraction":0.2,"tokens_per_expert":[3,1]},{"load_cv":0.8,"dropped_fraction":0.4,"tokens_per_expert":[1,3]}]},"routing_probe":{"layers":[{"fluctuation":0.1,"dirichlet_distance":0.1},{"fluctuation":0.3,"dirichlet_distance":0.3}]}}
{"step":4,"loss":2.1,"tokens_per_second":300,"val_loss":2.5,"moe":{"layers":[{"load_cv":1.0,"dropped_fraction":0.0,"tokens_per_expert":[6,2],"erc/diag_mean":2.0,"erc/offdiag_mean":1.0},{"load_cv":0.6,"dropped_fraction":0.2,"tokens_per_expert":[2,2],"erc/diag_mean":3.0,"erc/offdiag_mean":1.0}]},"routing_probe":{"layers":[{"fluctuation":0.2,"dirichlet_distance":0.05},{"fluctuation":0.2,"dirichlet_distance":0.15}]}}
{"step":4,"val_loss":2.4,"final":true}
)";

// Seed 2: resumed after step 1 (step 1 written twice: the later record counts), two steps.
const char* kRunB = R"({"step":1,"loss":3.1,"tokens_per_second":999}
{"step":1,"loss":3.1,"tokens_per_second":300}
{"step":2,"loss":2.9,"val_loss":3.0,"moe":{"layers":[{"load_cv":0.25,"dropped_fraction":0.1,"tokens_per_expert":[5,5]}]}}
{"step":2,"val_loss":2.6,"final":true}
)";

// An older version: no throughput, no MoE statistics, no final record.
const char* kRunOld = R"({"step":1,"loss":4.0}
{"step":2,"loss":3.5,"val_loss":3.9}
)";

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sy_report_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    const fs::path sweep = dir_ / "sweep";
    write(sweep / "g1.seed1" / "metrics.jsonl", kRunA);
    write(sweep / "g1.seed1" / "member.json", R"({"sweep":"s","group":"g1","seed":1})");
    write(sweep / "g1.seed1" / "DONE", "{}");
    write(sweep / "g1.seed2" / "metrics.jsonl", kRunB);
    write(sweep / "g1.seed2" / "member.json", R"({"sweep":"s","group":"g1","seed":2})");
    write(sweep / "g1.seed2" / "DONE", "{}");
    write(sweep / "g1.seed3" / "metrics.jsonl", kRunB);  // killed: no DONE
    write(sweep / "g1.seed3" / "member.json", R"({"sweep":"s","group":"g1","seed":3})");
    write(dir_ / "old" / "metrics.jsonl", kRunOld);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ReportTest, OneRunsMetricsByHand) {
  const RunMetrics m = parse_run_metrics(kRunA, "a");
  EXPECT_EQ(m.bad_lines, 1);
  EXPECT_EQ(m.steps.size(), 4u);
  const RunSummary s = summarize_run(m);
  EXPECT_DOUBLE_EQ(s.scalars.at("final_val_loss"), 2.4);
  EXPECT_DOUBLE_EQ(s.scalars.at("best_val_loss"), 2.4);
  EXPECT_DOUBLE_EQ(s.scalars.at("tokens_per_s"), 250);  // median of 100, 200, 400, 300
  // Late steps are 3 and 4: load CV (0.6 + 0.8) / 2 and (1.0 + 0.6) / 2, then their mean.
  EXPECT_NEAR(s.scalars.at("load_cv"), 0.75, 1e-12);
  EXPECT_NEAR(s.scalars.at("drop_rate"), 0.2, 1e-12);           // (0.3 + 0.1) / 2
  EXPECT_NEAR(s.scalars.at("fluctuation"), 0.2, 1e-12);         // probes 3 and 4 (2 had none)
  EXPECT_NEAR(s.scalars.at("erc_specialization"), 2.5, 1e-12);  // (2/1 + 3/1) / 2
  EXPECT_NEAR(s.scalars.at("dpsl_prior_fit"), 0.1, 1e-12);      // last probe: (0.05 + 0.15) / 2
  EXPECT_NEAR(s.scalars.at("inter_node_byte_share"), 200.0 / 600.0, 1e-12);
  EXPECT_NEAR(s.scalars.at("inter_node_bytes_per_step"), 40, 1e-12);  // steps 1 and 2
  ASSERT_EQ(s.val_loss.size(), 2u);  // step 2, and step 4's final evaluation replacing 2.5
  EXPECT_EQ(s.val_loss[1].first, 4);
  EXPECT_DOUBLE_EQ(s.val_loss[1].second, 2.4);
  ASSERT_EQ(s.fluctuation.size(), 2u);
  EXPECT_EQ(s.fluctuation[0].first, 3);
  ASSERT_EQ(s.inter_bytes.size(), 2u);
  EXPECT_DOUBLE_EQ(s.intra_bytes[0].second, 300);
  // Sorted shares, step 3: [.75,.25] and [.75,.25]; step 4: [.75,.25] and [.5,.5].
  ASSERT_EQ(s.load_share.size(), 2u);
  EXPECT_NEAR(s.load_share[0], 0.6875, 1e-12);
  EXPECT_NEAR(s.load_share[1], 0.3125, 1e-12);

  const RunSummary old = summarize_run(parse_run_metrics(kRunOld, "old"));
  EXPECT_DOUBLE_EQ(old.scalars.at("final_val_loss"), 3.9);  // no final record: the last eval
  EXPECT_EQ(old.scalars.count("tokens_per_s"), 0u);
  EXPECT_EQ(old.scalars.count("load_cv"), 0u);
  EXPECT_TRUE(old.load_share.empty());
}

TEST_F(ReportTest, MeanAndSampleStd) {
  const Stat s = describe({2.0, 4.0, 9.0});
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt((9.0 + 1.0 + 16.0) / 2.0));
  EXPECT_EQ(s.n, 3u);
  EXPECT_TRUE(std::isnan(describe({1.0}).std));
  EXPECT_TRUE(std::isnan(describe({}).mean));
  EXPECT_EQ(format_mean_std(describe({2.4, 2.6})), "2.5 ± 0.1414");
  EXPECT_EQ(format_mean_std(describe({3.9})), "3.9 ± n/a");
}

TEST_F(ReportTest, GroupsBySeedAndAggregates) {
  std::vector<std::string> notes;
  const auto runs = discover_runs({(dir_ / "sweep").string(), (dir_ / "old").string()}, &notes);
  ASSERT_EQ(runs.size(), 3u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("g1.seed3: not finished (no DONE marker)"));
  std::vector<RunSummary> summaries;
  for (const RunRef& r : runs)
    summaries.push_back(summarize_run(read_run_metrics(r.dir + "/metrics.jsonl")));
  const auto groups = aggregate_groups(runs, summaries);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "g1");
  EXPECT_EQ(groups[0].runs.size(), 2u);
  EXPECT_EQ(groups[1].label, "old");
  const Stat& final_loss = groups[0].metrics.at("final_val_loss");
  EXPECT_NEAR(final_loss.mean, 2.5, 1e-12);
  EXPECT_NEAR(final_loss.std, std::sqrt(0.02), 1e-12);
  EXPECT_EQ(final_loss.n, 2u);
  const Stat& tps = groups[0].metrics.at("tokens_per_s");
  EXPECT_NEAR(tps.mean, 275, 1e-9);  // 250 and 300 (the resumed step's later record)
  EXPECT_NEAR(tps.std, std::sqrt(2 * 25.0 * 25.0), 1e-9);
  const Stat& cv = groups[0].metrics.at("load_cv");
  EXPECT_NEAR(cv.mean, 0.5, 1e-12);                             // 0.75 and 0.25
  EXPECT_EQ(groups[0].metrics.at("erc_specialization").n, 1u);  // seed 2 has no ERC statistics
  EXPECT_EQ(groups[1].metrics.count("tokens_per_s"), 0u);
  // Val-loss series: step 2 has both seeds (2.8, 2.6); step 4 only seed 1's final.
  ASSERT_EQ(groups[0].val_loss.size(), 2u);
  EXPECT_EQ(groups[0].val_loss[0].step, 2);
  // Seed 2's final evaluation (2.6) replaces its periodic one at its last step.
  EXPECT_EQ(groups[0].val_loss[0].stat.n, 2u);
  EXPECT_NEAR(groups[0].val_loss[0].stat.mean, 2.7, 1e-12);
  EXPECT_EQ(groups[0].val_loss[1].stat.n, 1u);
  // Load shares: seed 1 [.6875, .3125], seed 2 [.5, .5].
  ASSERT_EQ(groups[0].load_share.size(), 2u);
  EXPECT_NEAR(groups[0].load_share[0].mean, 0.59375, 1e-12);
  EXPECT_EQ(groups[0].load_share[0].n, 2u);

  const std::string md = report_markdown(groups, notes);
  EXPECT_THAT(md, HasSubstr("| g1 | 2.5 ± 0.1414 | 2 | 2.4, 2.6 |"));
  EXPECT_THAT(md, HasSubstr("| old | 3.9 ± n/a | 1 | 3.9 |"));
  EXPECT_THAT(md, HasSubstr("| old | — | 0 | |"));
  EXPECT_THAT(md, HasSubstr("| g1 | 1,2 | 2.5 ± 0.1414 | 2.5 ± 0.1414 | 275 ± 35.36 |"));
  const std::string csv = report_csv(groups);
  EXPECT_THAT(csv, HasSubstr("g1,final_val_loss,2.5,0.1414213562373"));
  EXPECT_THAT(csv, HasSubstr("old,final_val_loss,3.8999999999999999,,1,3.8999999999999999\n"));
  const auto json = nlohmann::json::parse(report_json(groups, notes));
  EXPECT_EQ(json["groups"][0]["metrics"]["final_val_loss"]["n"], 2);
  EXPECT_NEAR(json["groups"][0]["metrics"]["load_cv"]["std"].get<double>(), std::sqrt(0.125),
              1e-12);
  EXPECT_TRUE(json["groups"][1]["metrics"]["final_val_loss"]["std"].is_null());
  EXPECT_EQ(json["groups"][0]["runs"][1]["seed"], 2);
}

TEST_F(ReportTest, MetricsNoRunHasAreLeftOutWithANote) {
  std::vector<std::string> notes;
  const auto runs = discover_runs({(dir_ / "old").string()}, &notes);
  const auto groups =
      aggregate_groups(runs, {summarize_run(read_run_metrics(runs[0].dir + "/metrics.jsonl"))});
  const auto missing = missing_metric_notes(groups);
  EXPECT_EQ(missing.size(), 8u);  // everything but the two validation losses
  EXPECT_THAT(missing[0], HasSubstr("no run has tokens_per_s"));
  const std::string md = report_markdown(groups, missing);
  EXPECT_THAT(md, Not(HasSubstr("tokens/s |")));
  EXPECT_THAT(md, HasSubstr("- no run has fluctuation"));
}

TEST_F(ReportTest, ADirectoryWithoutRunsIsAConfigError) {
  fs::create_directories(dir_ / "empty");
  std::vector<std::string> notes;
  try {
    discover_runs({(dir_ / "empty").string()}, &notes);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is neither a run directory"));
  }
}

TEST_F(ReportTest, PlotsArePngs) {
  std::vector<std::string> notes;
  const auto runs = discover_runs({(dir_ / "sweep").string()}, &notes);
  std::vector<RunSummary> summaries;
  for (const RunRef& r : runs)
    summaries.push_back(summarize_run(read_run_metrics(r.dir + "/metrics.jsonl")));
  const auto groups = aggregate_groups(runs, summaries);
  const fs::path out = dir_ / "report";
  fs::create_directories(out);
  const auto pngs = write_report_plots(groups, out.string(), &notes);
  ASSERT_EQ(pngs.size(), 4u);
  for (const std::string& png : pngs) EXPECT_EQ(read(png).substr(1, 3), "PNG") << png;
  EXPECT_THAT(read(out / "plot_val_loss_0.dat"), HasSubstr("\n4 2.4 2.4 2.4\n"));
}

}  // namespace
}  // namespace switchyard::launch
