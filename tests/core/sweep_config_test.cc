// The sweep schema's loader and expansion (core/config/sweep_loader.h, sweep_expansion.h):
// hand-counted members and names for crossed and zipped axes with seeds, and one-line errors
// naming the file and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "core/config/sweep_expansion.h"
#include "core/config/sweep_loader.h"
#include "core/errors.h"

namespace switchyard::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

std::vector<std::string> names(const std::vector<SweepMember>& members) {
  std::vector<std::string> out;
  for (const SweepMember& m : members) out.push_back(m.name);
  return out;
}

TEST(SweepExpansion, CrossedAxesTimesSeedsInOrder) {
  const SweepConfig s = parse_sweep_text(R"(
    name: "x" base: "b.pbtxt"
    set: "train.num_steps=5"
    axis { field: "model.moe.router.top_k" values: "1" values: "2" }
    axis { name: "lb" point { label: "off" set: "model.moe.aux_loss.load_balancing_coeff=0" }
                      point { set: "model.moe.aux_loss.load_balancing_coeff=0.01"
                              set: "model.moe.aux_loss.z_loss_coeff=0.001" }
                      point { label: "big" set: "model.moe.aux_loss.load_balancing_coeff=0.1" } }
    seeds: 7 seeds: 8)",
                                         "t.pbtxt");
  const auto members = expand_sweep(s, 1337, "t.pbtxt");
  // 2 x 3 combinations x 2 seeds, the last axis varying fastest, seeds innermost.
  ASSERT_EQ(members.size(), 12u);
  EXPECT_EQ(members[0].name, "top_k-1_off.seed7");
  EXPECT_EQ(members[1].name, "top_k-1_off.seed8");
  EXPECT_EQ(members[2].name, "top_k-1_0.01-0.001.seed7");
  EXPECT_EQ(members[4].name, "top_k-1_big.seed7");
  EXPECT_EQ(members[6].name, "top_k-2_off.seed7");
  EXPECT_EQ(members[11].name, "top_k-2_big.seed8");
  EXPECT_EQ(members[11].group, "top_k-2_big");
  EXPECT_EQ(members[11].index, 11u);
  EXPECT_EQ(members[3].seed, 8u);
  EXPECT_THAT(members[3].overrides,
              ElementsAre("train.num_steps=5", "model.moe.router.top_k=1",
                          "model.moe.aux_loss.load_balancing_coeff=0.01",
                          "model.moe.aux_loss.z_loss_coeff=0.001", "train.seed=8"));
  ASSERT_EQ(members[3].points.size(), 2u);
  EXPECT_EQ(members[3].points[0].first, "model.moe.router.top_k");
  EXPECT_EQ(members[3].points[0].second, "top_k-1");
  EXPECT_EQ(members[3].points[1].first, "lb");
  EXPECT_EQ(members[3].points[1].second, "0.01-0.001");
}

TEST(SweepExpansion, ZippedAxesPairPointsAndDefaultSeedIsTheBases) {
  const SweepConfig s = parse_sweep_text(R"(
    name: "z" base: "b.pbtxt" combine: ZIPPED
    axis { field: "model.moe.router.kind" values: "TOP_K" values: "EXPERT_CHOICE" }
    axis { field: "model.moe.router.top_k" values: "2" values: "1" })",
                                         "z.pbtxt");
  const auto members = expand_sweep(s, 42, "z.pbtxt");
  EXPECT_THAT(names(members),
              ElementsAre("kind-TOP_K_top_k-2.seed42", "kind-EXPERT_CHOICE_top_k-1.seed42"));
  EXPECT_THAT(members[1].overrides, ElementsAre("model.moe.router.kind=EXPERT_CHOICE",
                                                "model.moe.router.top_k=1", "train.seed=42"));
}

TEST(SweepExpansion, NoAxesIsOneGroupPerSeed) {
  const SweepConfig s = parse_sweep_text(R"(name: "n" base: "b" seeds: [1, 2, 3])", "n");
  EXPECT_THAT(names(expand_sweep(s, 0, "n")),
              ElementsAre("base.seed1", "base.seed2", "base.seed3"));
}

TEST(SweepExpansion, MemberConfigAppliesOverridesAndRunDirAndWorldSize) {
  const SweepConfig s = parse_sweep_text(
      R"(name: "m" base: "b" axis { field: "model.moe.router.top_k" values: "1" } seeds: 3)", "m");
  const auto members = expand_sweep(s, 0, "m");
  ExperimentConfig base;
  base.mutable_parallel()->set_world_size(4);
  const ExperimentConfig c = member_config(base, members[0], "runs/sweeps/m/top_k-1.seed3", "m");
  EXPECT_EQ(c.model().moe().router().top_k(), 1);
  EXPECT_EQ(c.train().seed(), 3u);
  EXPECT_EQ(c.logging().run_dir(), "runs/sweeps/m/top_k-1.seed3");
  EXPECT_EQ(c.checkpoint().dir(), "runs/sweeps/m/top_k-1.seed3/checkpoints");
  EXPECT_EQ(member_world_size(s, c), 4);
  EXPECT_EQ(member_world_size(s, ExperimentConfig()), 1);
  SweepConfig two = s;
  two.set_world_size(2);
  EXPECT_EQ(member_world_size(two, c), 2);

  SweepConfig bad = s;
  bad.mutable_axis(0)->set_field("model.moe.routr.top_k");
  const auto bad_members = expand_sweep(bad, 0, "m.pbtxt");
  EXPECT_THAT(error_of([&] { member_config(base, bad_members[0], "d", "m.pbtxt"); }),
              HasSubstr("m.pbtxt: member 'top_k-1.seed3'"));
  EXPECT_THAT(error_of([&] { member_config(base, bad_members[0], "d", "m.pbtxt"); }),
              HasSubstr("override 'model.moe.routr.top_k=1'"));
}

TEST(SweepLoader, ErrorsNameTheFileAndField) {
  auto err = [](const std::string& text) {
    return error_of([&] { parse_sweep_text(text, "s.pbtxt"); });
  };
  EXPECT_EQ(err(R"(base: "b")"), "s.pbtxt: field 'name': must be set");
  EXPECT_THAT(err(R"(name: "a/b" base: "b")"), HasSubstr("s.pbtxt: field 'name': 'a/b' must be"));
  EXPECT_EQ(err(R"(name: "a")"), "s.pbtxt: field 'base': must name the base experiment config");
  EXPECT_EQ(err(R"(name: "a" base: "b" axis { field: "x" })"),
            "s.pbtxt: field 'axis[0].values': must not be empty with 'field'");
  EXPECT_EQ(err(R"(name: "a" base: "b" axis { values: "1" })"),
            "s.pbtxt: field 'axis[0].field': must be set with 'values'");
  EXPECT_EQ(err(R"(name: "a" base: "b" axis { })"),
            "s.pbtxt: field 'axis[0]': has no points: give 'field' with 'values', or 'point's");
  EXPECT_EQ(err(R"(name: "a" base: "b" axis { field: "x" values: "1" point { set: "y=1" } })"),
            "s.pbtxt: field 'axis[0]': give either 'field' with 'values' or 'point's, not both");
  EXPECT_EQ(err(R"(name: "a" base: "b" axis { point { set: "y" } })"),
            "s.pbtxt: field 'axis[0].point[0].set[0]': expected path=value, got 'y'");
  EXPECT_EQ(err(R"(name: "a" base: "b" seeds: [1, 2, 1])"),
            "s.pbtxt: field 'seeds[2]': seed 1 is listed twice");
  EXPECT_EQ(err(R"(name: "a" base: "b" combine: ZIPPED axis { field: "x" values: ["1", "2"] }
                   axis { field: "y" values: "1" })"),
            "s.pbtxt: field 'axis[1]': ZIPPED axes must have the same length: 1 points, axis[0] "
            "has 2");
  EXPECT_EQ(err(R"(name: "a" base: "b" world_size: -1)"),
            "s.pbtxt: field 'world_size': must be >= 0, got -1");
  EXPECT_THAT(err(R"(name: "a" base: "b" axs { })"),
              HasSubstr("s.pbtxt:1:25: field 'axs': unknown field"));
  // Two points with one label make two members of one name.
  const SweepConfig dup = parse_sweep_text(
      R"(name: "a" base: "b" axis { field: "x.y" values: ["a b", "a-b"] })", "s.pbtxt");
  EXPECT_EQ(error_of([&] { expand_sweep(dup, 1, "s.pbtxt"); }),
            "s.pbtxt: field 'axis[0]': points 0 and 1 both have the label 'y-a-b' (set 'label' "
            "to tell them apart)");
}

TEST(SweepLoader, FileBaseIsResolvedAgainstTheSweepsDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "sy_sweep_loader_test";
  std::filesystem::create_directories(dir / "sweeps");
  std::ofstream(dir / "base.pbtxt") << "train { num_steps: 3 }\n";
  std::ofstream(dir / "sweeps" / "ok.pbtxt") << "name: \"ok\" base: \"../base.pbtxt\"\n";
  std::ofstream(dir / "sweeps" / "missing.pbtxt") << "name: \"m\" base: \"nope.pbtxt\"\n";
  const LoadedSweep ok = load_sweep_file((dir / "sweeps" / "ok.pbtxt").string());
  EXPECT_EQ(ok.base_path, (dir / "base.pbtxt").string());
  const std::string missing = (dir / "sweeps" / "missing.pbtxt").string();
  EXPECT_THAT(error_of([&] { load_sweep_file(missing); }),
              HasSubstr(missing + ": field 'base': " + (dir / "sweeps" / "nope.pbtxt").string()));
  EXPECT_THAT(error_of([&] { load_sweep_file((dir / "none.pbtxt").string()); }),
              HasSubstr("none.pbtxt"));
  std::filesystem::remove_all(dir);
}

TEST(SweepExamples, EveryExampleSweepLoadsAndExpands) {
  const std::filesystem::path dir = std::string(SY_SOURCE_DIR) + "/examples/sweeps";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".pbtxt") continue;
    const LoadedSweep s = load_sweep_file(entry.path().string());
    const ExperimentConfig base = load_config_file(s.base_path);
    const auto members = expand_sweep(s.sweep, base.train().seed(), s.path);
    EXPECT_GE(members.size(), 2u) << entry.path();
    for (const SweepMember& m : members) {
      // Every member is a valid experiment at its world size.
      const ExperimentConfig c = member_config(base, m, "runs/x", s.path);
      ValidationContext context;
      context.world_size = member_world_size(s.sweep, c);
      context.check_files = false;
      for (const ConfigIssue& i : find_config_issues(c, context))
        ADD_FAILURE() << entry.path() << " member " << m.name << ": " << i.path << ": " << i.reason;
    }
    if (entry.path().filename() != "smoke.pbtxt") {
      EXPECT_GE(s.sweep.seeds_size(), 3) << entry.path();
    }
    ++count;
  }
  EXPECT_GE(count, 7);
}

}  // namespace
}  // namespace switchyard::config
