// Sweeps in launch/sweep/: planning (member dirs, resolved configs, world sizes), the local
// runner's skip / failure / resume logic with a stand-in mpirun, the manifest and markers, and
// the Slurm job-array script.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "launch/sweep/member_status.h"
#include "launch/sweep/slurm_array_script.h"
#include "launch/sweep/sweep_manifest.h"
#include "launch/sweep/sweep_runner.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sy_sweep_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "base.pbtxt") << "train { num_steps: 2 }\ndata { path: \"" << SY_SOURCE_DIR
                                       << "/examples/data/tinyshakespeare.txt\" }\n";
    std::ofstream(dir_ / "s.pbtxt")
        << "name: \"s\" base: \"base.pbtxt\"\n"
        << "axis { field: \"generate.prompt\" values: [\"ok\", \"bad\"] }\nseeds: [1, 2]\n";
    // A stand-in for mpirun: records its arguments, then exits as the member's prompt says
    // ("bad": status 3; "kill": killed by SIGKILL).
    std::ofstream(dir_ / "mpirun.sh") << "#!/bin/sh\n"
                                      << "echo \"$@\" >> " << (dir_ / "calls").string() << "\n"
                                      << "for last; do :; done\n"
                                      << "grep -q 'prompt: \"bad\"' \"$last\" && exit 3\n"
                                      << "grep -q 'prompt: \"kill\"' \"$last\" && kill -9 $$\n"
                                      << "echo trained\nexit 0\n";
    fs::permissions(dir_ / "mpirun.sh", fs::perms::owner_all);
    options_.switchyard_bin = "/bin/switchyard-stand-in";
    options_.mpirun = (dir_ / "mpirun.sh").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  SweepPlan plan() {
    return plan_sweep((dir_ / "s.pbtxt").string(), (dir_ / "out").string(), true);
  }
  std::vector<std::string> calls() { return lines(read(dir_ / "calls")); }

  fs::path dir_;
  RunnerOptions options_;
};

TEST_F(SweepTest, PlanGivesEachMemberItsDirConfigAndWorldSize) {
  const SweepPlan p = plan();
  EXPECT_EQ(p.dir, (dir_ / "out").string());
  ASSERT_EQ(p.members.size(), 4u);
  EXPECT_EQ(p.members[2].member.name, "prompt-bad.seed1");
  EXPECT_EQ(p.members[2].dir, (dir_ / "out" / "prompt-bad.seed1").string());
  EXPECT_EQ(p.members[2].config.train().seed(), 1u);
  EXPECT_EQ(p.members[2].config.generate().prompt(), "bad");
  EXPECT_EQ(p.members[2].config.logging().run_dir(), p.members[2].dir);
  EXPECT_EQ(p.members[2].world_size, 1);
  EXPECT_THAT(member_command(p.members[2], options_),
              ElementsAre(options_.mpirun, "-np", "1", "--oversubscribe", "--bind-to", "none", "-x",
                          "OMP_WAIT_POLICY", "-x", "OMPI_MCA_mpi_yield_when_idle",
                          "/bin/switchyard-stand-in", "train", p.members[2].dir + "/config.pbtxt"));
  // The default output directory is <output_root>/<name>, relative to the working directory.
  EXPECT_EQ(plan_sweep((dir_ / "s.pbtxt").string(), "", true).dir, "runs/sweeps/s");
  // Nothing is written by planning.
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SweepTest, MemberConfigsAreValidatedForTheirWorldSize) {
  std::ofstream(dir_ / "s.pbtxt", std::ios::app)
      << "world_size: 3\nset: \"train.global_batch_size=4\"\n";
  try {
    plan();
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr((dir_ / "s.pbtxt").string() +
                          ": member 'prompt-ok.seed1' (3 ranks): train.global_batch_size"));
  }
}

TEST_F(SweepTest, FailedMembersAreReportedTheOthersGoOnAndResumeSkipsFinished) {
  const SweepPlan p = plan();
  std::ostringstream out;
  const SweepOutcome first = run_sweep(p, {}, options_, out);
  EXPECT_EQ(first.finished, 2);
  EXPECT_EQ(first.failed, 2);
  EXPECT_EQ(first.exit_code(), 1);
  EXPECT_EQ(calls().size(), 4u);
  EXPECT_THAT(out.str(), HasSubstr("[3/4] prompt-bad.seed1: FAILED with exit status 3 (log " +
                                   p.members[2].dir + "/train.log)"));
  EXPECT_EQ(member_status(p.members[0].dir), MemberStatus::kFinished);
  EXPECT_EQ(member_status(p.members[2].dir), MemberStatus::kFailed);
  EXPECT_EQ(recorded_exit_status(p.members[2].dir), 3);
  EXPECT_EQ(read(fs::path(p.members[0].dir) / "train.log"), "trained\n");
  // The member's resolved config and description are in its directory.
  EXPECT_THAT(read(fs::path(p.members[0].dir) / "config.pbtxt"), HasSubstr("seed: 1"));
  const auto member = nlohmann::json::parse(read(fs::path(p.members[3].dir) / "member.json"));
  EXPECT_EQ(member["group"], "prompt-bad");
  EXPECT_EQ(member["seed"], 2);
  EXPECT_EQ(member["points"]["generate.prompt"], "prompt-bad");
  // The manifest has every member's status.
  const auto manifest = nlohmann::json::parse(read(dir_ / "out" / "sweep.json"));
  ASSERT_EQ(manifest["members"].size(), 4u);
  EXPECT_EQ(manifest["members"][1]["status"], "finished");
  EXPECT_EQ(manifest["members"][3]["status"], "failed");
  EXPECT_EQ(manifest["members"][3]["exit_status"], 3);

  // Fixed: the next run skips the finished members and runs only the failed ones.
  std::ofstream(dir_ / "mpirun.sh", std::ios::app) << "";
  fs::remove(dir_ / "calls");
  std::string script = read(dir_ / "mpirun.sh");
  script.replace(script.find("exit 3"), 6, "exit 0");
  std::ofstream(dir_ / "mpirun.sh") << script;
  std::ostringstream again;
  const SweepOutcome second = run_sweep(p, {}, options_, again);
  EXPECT_EQ(second.skipped, 2);
  EXPECT_EQ(second.finished, 4);
  EXPECT_EQ(second.exit_code(), 0);
  ASSERT_EQ(calls().size(), 2u);
  EXPECT_THAT(calls()[0], HasSubstr("prompt-bad.seed1/config.pbtxt"));
  EXPECT_THAT(calls()[1], HasSubstr("prompt-bad.seed2/config.pbtxt"));
  EXPECT_THAT(again.str(), HasSubstr("[1/4] prompt-ok.seed1: finished before, skipped"));
  EXPECT_EQ(member_status(p.members[2].dir), MemberStatus::kFinished);
  EXPECT_FALSE(fs::exists(fs::path(p.members[2].dir) / "FAILED"));
}

TEST_F(SweepTest, AKilledMemberRunsAgainAndOnlyIt) {
  std::ofstream(dir_ / "s.pbtxt")
      << "name: \"s\" base: \"base.pbtxt\"\n"
      << "axis { field: \"generate.prompt\" values: [\"ok\", \"kill\"] }\n";
  const SweepPlan p = plan();
  std::ostringstream out;
  EXPECT_EQ(run_sweep(p, {}, options_, out).exit_code(), 1);
  EXPECT_THAT(out.str(), HasSubstr("prompt-kill.seed1337: FAILED with exit status 137"));
  // A member killed with its sweep (the runner itself killed too) leaves no marker at all.
  fs::remove(fs::path(p.members[1].dir) / "FAILED");
  EXPECT_EQ(member_status(p.members[1].dir), MemberStatus::kPending);
  fs::remove(dir_ / "calls");
  std::string script = read(dir_ / "mpirun.sh");
  script.replace(script.find("kill -9 $$"), 10, "exit 0");
  std::ofstream(dir_ / "mpirun.sh") << script;
  std::ostringstream again;
  EXPECT_EQ(run_sweep(p, {}, options_, again).exit_code(), 0);
  ASSERT_EQ(calls().size(), 1u);
  EXPECT_THAT(calls()[0], HasSubstr("prompt-kill.seed1337/config.pbtxt"));
}

TEST_F(SweepTest, SelectedMembersAndDryRun) {
  const SweepPlan p = plan();
  std::ostringstream out;
  options_.dry_run = true;
  EXPECT_EQ(run_sweep(p, {}, options_, out).exit_code(), 0);
  EXPECT_FALSE(fs::exists(dir_ / "calls"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_THAT(out.str(), HasSubstr("[2/4] prompt-ok.seed2: " + options_.mpirun + " -np 1"));
  options_.dry_run = false;
  std::ostringstream one;
  EXPECT_EQ(run_sweep(p, {1}, options_, one).finished, 1);
  ASSERT_EQ(calls().size(), 1u);
  EXPECT_THAT(calls()[0], HasSubstr("prompt-ok.seed2/config.pbtxt"));
  // Running one member (a Slurm array task) writes no manifest: tasks run concurrently.
  EXPECT_FALSE(fs::exists(dir_ / "out" / "sweep.json"));
  // Again: finished, so nothing runs (an array task that runs twice does nothing).
  std::ostringstream twice;
  EXPECT_EQ(run_sweep(p, {1}, options_, twice).skipped, 1);
  EXPECT_EQ(calls().size(), 1u);
}

TEST_F(SweepTest, SlurmArrayScript) {
  std::ofstream(dir_ / "s.pbtxt", std::ios::app) << "world_size: 2\n";
  const SweepPlan p = plan();
  SlurmScriptOptions o;
  o.switchyard_bin = "/opt/sy/switchyard";
  o.sweep_file = "/src/sweeps/s.pbtxt";
  o.sweep_dir = "/src/runs/sweeps/s";
  o.workdir = "/src";
  o.time_limit = "00:30:00";
  o.max_parallel = 2;
  const std::string script = slurm_array_script(p, o);
  const auto l = lines(script);
  EXPECT_EQ(l[0], "#!/usr/bin/env bash");
  for (const char* line :
       {"#SBATCH --job-name=sweep-s", "#SBATCH --array=0-3%2", "#SBATCH --nodes=1",
        "#SBATCH --ntasks=2", "#SBATCH --overcommit", "#SBATCH --time=00:30:00",
        "#SBATCH --requeue", "#SBATCH --signal=B:USR1@120", "#SBATCH --open-mode=append",
        "#SBATCH --chdir=/src", "#SBATCH --output=/src/runs/sweeps/s/slurm-%A_%a.out",
        "bin='/opt/sy/switchyard'", "sweep='/src/sweeps/s.pbtxt'", "dir='/src/runs/sweeps/s'",
        "\"$bin\" sweep run \"$sweep\" --out \"$dir\" --member \"$task\" &",
        "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${task}\""}) {
    EXPECT_THAT(l, ::testing::Contains(std::string(line))) << line;
  }
  // Every #SBATCH line comes before the first command (sbatch stops reading them there).
  size_t last_sbatch = 0, first_command = l.size();
  for (size_t i = 1; i < l.size(); ++i) {
    if (l[i].rfind("#SBATCH", 0) == 0) last_sbatch = i;
    if (first_command == l.size() && !l[i].empty() && l[i][0] != '#') first_command = i;
  }
  EXPECT_LT(last_sbatch, first_command);
  EXPECT_EQ(slurm_array_range(1, 0), "0-0");
  EXPECT_EQ(slurm_array_range(12, 0), "0-11");
}

}  // namespace
}  // namespace switchyard::launch
