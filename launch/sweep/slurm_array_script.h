// File: launch/sweep/slurm_array_script.h
//
// The Slurm job-array batch script of a sweep: one array task per member (task id = member
// index). Each task runs `switchyard sweep run SWEEP --out DIR --member $SLURM_ARRAY_TASK_ID`,
// which skips a finished member, so a task that runs twice does nothing the second time; with
// `--requeue` and `--signal=B:USR1@120` a task preempted or near its time limit checkpoints
// (exit 75) and is requeued (`scontrol requeue <job>_<task>`), and resumes from its checkpoint.
// Every task asks for the largest member world size (one allocation shape per array), and
// `--overcommit` lets ranks share CPUs.
#pragma once

#include <string>

#include "launch/sweep/sweep_plan.h"

namespace switchyard::launch {

struct SlurmScriptOptions {
  std::string switchyard_bin;  // absolute path of the executable
  std::string sweep_file;      // absolute path of the sweep file
  std::string sweep_dir;       // absolute path of the sweep directory
  std::string workdir;         // absolute working directory of the tasks (data paths)
  std::string time_limit = "02:00:00";
  int max_parallel = 0;  // at most this many tasks at once ("%N" on --array); 0 = no limit
  int max_requeues = 20;
};

// The script text.
std::string slurm_array_script(const SweepPlan& plan, const SlurmScriptOptions& options);

// The `--array` value: "0-<N-1>" or "0-<N-1>%<max_parallel>".
std::string slurm_array_range(size_t members, int max_parallel);

}  // namespace switchyard::launch
