// File: launch/sweep/sweep_runner.h
//
// Runs a sweep's members on this machine, one after the other, each under mpirun at its world
// size: `mpirun -np W --oversubscribe --bind-to none ... switchyard train <member>/config.pbtxt`,
// stdout and stderr appended to <member>/train.log. Finished members (DONE) are skipped; a member
// that fails gets a FAILED marker, is reported with its exit status and log, and the others go
// on. SIGUSR1/SIGTERM to the sweep are forwarded to the running member as SIGUSR1 (it
// checkpoints and exits 75); the sweep then stops with 75, and running it again resumes.
#pragma once

#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

#include "launch/sweep/sweep_plan.h"

namespace switchyard::launch {

struct RunnerOptions {
  std::string switchyard_bin;            // the executable each rank runs
  std::string mpirun = "mpirun";         // Open MPI's launcher (a path or a name on PATH)
  std::vector<std::string> mpirun_args;  // extra arguments for mpirun
  bool dry_run = false;                  // print the commands, run and write nothing
};

struct SweepOutcome {
  int finished = 0;  // finished now or before
  int skipped = 0;   // of those: already finished before this run
  int failed = 0;
  bool stopped = false;  // a member exited 75 (stopped by a signal, checkpointed)
  int exit_code() const { return stopped ? 75 : failed > 0 ? 1 : 0; }
};

// The command line of one member (argv; argv[0] is mpirun).
std::vector<std::string> member_command(const PlannedMember& m, const RunnerOptions& options);

// Runs `indices` of the plan (all when empty), reporting progress to `out`.
SweepOutcome run_sweep(const SweepPlan& plan,
                       const std::vector<size_t>& indices,
                       const RunnerOptions& options,
                       std::ostream& out);

}  // namespace switchyard::launch
