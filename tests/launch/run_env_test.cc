// launch/run_env: rank, local rank, node and world size from the variables Open MPI's mpirun,
// Slurm's srun (with PMIx) and a bare PMIx launcher set. The variable sets are those seen on this
// machine kind (Open MPI 4.1 mpirun; Slurm 22.05 srun --mpi=pmix tasks, which have SLURM_STEP_ID,
// and an sbatch shell, which has SLURM_PROCID but no SLURM_STEP_ID); the values are chosen so
// that every field comes from a different number.
#include "launch/run_env.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchyard::launch {
namespace {

using ::testing::ElementsAre;

RunEnv parse(const std::map<std::string, std::string>& vars) {
  return parse_run_env([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(RunEnv, NoLauncher) {
  const RunEnv env = parse({});
  EXPECT_EQ(env.launcher, "");
  EXPECT_EQ(env.world_size, 0);
  EXPECT_EQ(env.world_rank, 0);
  EXPECT_EQ(env.node_rank, -1);
}

TEST(RunEnv, OpenMpiWinsOverTheSlurmBatchEnvironment) {
  // mpirun inside an sbatch allocation: every rank inherits the batch shell's SLURM_PROCID=0.
  const RunEnv env = parse({{"OMPI_COMM_WORLD_SIZE", "8"},
                            {"OMPI_COMM_WORLD_RANK", "5"},
                            {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                            {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                            {"OMPI_MCA_orte_num_nodes", "2"},
                            {"PMIX_RANK", "5"},
                            {"SLURM_JOB_ID", "42"},
                            {"SLURM_RESTART_COUNT", "3"},
                            {"SLURM_PROCID", "0"},
                            {"SLURM_NTASKS", "8"},
                            {"SLURM_NODEID", "0"}});
  EXPECT_EQ(env.launcher, "openmpi");
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.world_rank, 5);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_size, 4);
  EXPECT_EQ(env.num_nodes, 2);
  EXPECT_EQ(env.node_rank, -1);  // mpirun does not say
  EXPECT_EQ(env.slurm_job_id, "42");
  EXPECT_EQ(env.slurm_restart_count, 3);
}

TEST(RunEnv, SrunTaskWithPmix) {
  // Rank 5 of srun --mpi=pmix -N 3 with tasks per node 2,2,1... here node 2 holds ranks 4-5.
  const RunEnv env = parse({{"SLURM_STEP_ID", "0"},
                            {"SLURM_NTASKS", "6"},
                            {"SLURM_PROCID", "5"},
                            {"SLURM_LOCALID", "1"},
                            {"SLURM_NODEID", "2"},
                            {"SLURM_STEP_NUM_NODES", "3"},
                            {"SLURM_STEP_TASKS_PER_NODE", "1,3,2"},
                            {"PMIX_RANK", "5"},
                            {"SLURM_JOB_ID", "7"}});
  EXPECT_EQ(env.launcher, "slurm");
  EXPECT_EQ(env.world_size, 6);
  EXPECT_EQ(env.world_rank, 5);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_size, 2);
  EXPECT_EQ(env.node_rank, 2);
  EXPECT_EQ(env.num_nodes, 3);
  EXPECT_EQ(env.slurm_restart_count, 0);
}

TEST(RunEnv, TheBatchShellIsNotATask) {
  // sbatch's shell has SLURM_PROCID=0 and SLURM_NTASKS but is not rank 0 of a task launch.
  const RunEnv env = parse({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "9"}});
  EXPECT_EQ(env.launcher, "");
  EXPECT_EQ(env.world_size, 0);
  EXPECT_EQ(env.slurm_job_id, "9");
}

TEST(RunEnv, BarePmix) {
  const RunEnv env = parse({{"PMIX_RANK", "3"}, {"PMIX_SIZE", "4"}});
  EXPECT_EQ(env.launcher, "pmix");
  EXPECT_EQ(env.world_rank, 3);
  EXPECT_EQ(env.world_size, 4);
}

TEST(RunEnv, MalformedNumbersAreIgnored) {
  const RunEnv env = parse({{"OMPI_COMM_WORLD_SIZE", "4x"}, {"PMIX_RANK", "-1"}});
  EXPECT_EQ(env.launcher, "");
  EXPECT_EQ(env.world_size, 0);
}

TEST(RunEnv, ExpandsSlurmTaskCounts) {
  EXPECT_THAT(expand_slurm_counts("2(x3),1"), ElementsAre(2, 2, 2, 1));
  EXPECT_THAT(expand_slurm_counts("4"), ElementsAre(4));
  EXPECT_THAT(expand_slurm_counts("1,3,2"), ElementsAre(1, 3, 2));
  EXPECT_TRUE(expand_slurm_counts("2(3)").empty());
  EXPECT_TRUE(expand_slurm_counts("x").empty());
  EXPECT_TRUE(expand_slurm_counts("2(x0)").empty());
}

}  // namespace
}  // namespace switchyard::launch
