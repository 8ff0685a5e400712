// File: launch/run_env.h
//
// What the launcher (Open MPI's mpirun, Slurm's srun, a PMIx launcher) says about this process,
// read from the environment in this one place. Nothing below launch/ reads environment variables.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace switchyard::launch {

struct RunEnv {
  // "openmpi" (mpirun), "slurm" (srun, with or without --mpi=pmix), "pmix" (another PMIx
  // launcher) or "" (not started by a known launcher).
  std::string launcher;
  int world_size = 0;  // 0 = not started by a known launcher
  int world_rank = 0;
  int local_rank = 0;           // index of this process among the job's processes on its node
  int local_size = 0;           // processes of the job on this node; 0 = unknown
  int node_rank = -1;           // index of this node in the job; -1 = unknown (mpirun does not say)
  int num_nodes = 0;            // nodes of the job; 0 = unknown
  std::string slurm_job_id;     // SLURM_JOB_ID, empty outside Slurm
  int slurm_restart_count = 0;  // SLURM_RESTART_COUNT: times the job was requeued
};

// Reads the variables through `lookup` (name -> value, or nullptr when unset). Preference:
//   Open MPI: OMPI_COMM_WORLD_{SIZE,RANK,LOCAL_RANK,LOCAL_SIZE}, OMPI_MCA_orte_num_nodes;
//   Slurm task (SLURM_STEP_ID and SLURM_PROCID set): SLURM_{NTASKS,PROCID,LOCALID,NODEID},
//     SLURM_STEP_NUM_NODES, and this node's entry of SLURM_STEP_TASKS_PER_NODE ("2(x3),1");
//   PMIx: PMIX_RANK, PMIX_SIZE.
RunEnv parse_run_env(const std::function<const char*(const char*)>& lookup);

// parse_run_env over this process's environment.
RunEnv read_run_env();

// Counts of "2(x3),1" (a Slurm tasks-per-node list) expanded per node: {2, 2, 2, 1}. Empty when
// malformed.
std::vector<int> expand_slurm_counts(const std::string& list);

}  // namespace switchyard::launch
