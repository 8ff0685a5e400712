#include "launch/sweep/slurm_array_script.h"

#include <algorithm>
#include <sstream>

namespace switchyard::launch {
namespace {

// Single-quoted for bash.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string slurm_array_range(size_t members, int max_parallel) {
  std::string range = "0-" + std::to_string(members == 0 ? 0 : members - 1);
  if (max_parallel > 0) range += "%" + std::to_string(max_parallel);
  return range;
}

std::string slurm_array_script(const SweepPlan& plan, const SlurmScriptOptions& o) {
  int tasks = 1;
  for (const PlannedMember& m : plan.members) tasks = std::max(tasks, m.world_size);
  const std::string& name = plan.loaded.sweep.name();
  std::ostringstream s;
  s << "#!/usr/bin/env bash\n"
    << "# Sweep '" << name << "': " << plan.members.size()
    << " member(s), one Slurm array task each (task id = member index;\n"
    << "# `switchyard sweep list` shows them). Written by `switchyard sweep slurm`; submit with\n"
    << "#   sbatch " << o.sweep_dir << "/sweep.sbatch\n"
    << "# A task skips a finished member; on SIGUSR1 (time limit, preemption) the member\n"
    << "# checkpoints, exits 75 and the task is requeued to resume.\n"
    << "#SBATCH --job-name=sweep-" << name << "\n"
    << "#SBATCH --array=" << slurm_array_range(plan.members.size(), o.max_parallel) << "\n"
    << "#SBATCH --nodes=1\n"
    << "#SBATCH --ntasks=" << tasks << "\n"
    << "#SBATCH --overcommit\n"
    << "#SBATCH --time=" << o.time_limit << "\n"
    << "#SBATCH --requeue\n"
    << "#SBATCH --signal=B:USR1@120\n"
    << "#SBATCH --open-mode=append\n"
    << "#SBATCH --chdir=" << o.workdir << "\n"
    << "#SBATCH --output=" << o.sweep_dir << "/slurm-%A_%a.out\n"
    << "set -uo pipefail\n"
    << "bin=" << quote(o.switchyard_bin) << "\n"
    << "sweep=" << quote(o.sweep_file) << "\n"
    << "dir=" << quote(o.sweep_dir) << "\n"
    << "task=${SLURM_ARRAY_TASK_ID:?not an array task}\n"
    << "restarts=${SLURM_RESTART_COUNT:-0}\n"
    << "echo \"sweep " << name
    << " task $task (job ${SLURM_ARRAY_JOB_ID:-?}_$task, run $((restarts + 1))) on "
       "${SLURM_JOB_NODELIST:-?}\"\n"
    << "pid=\"\"\n"
    << "# A signal before the member runs is remembered; later ones go to it (bash runs traps\n"
    << "# between commands, so the member runs in the background and `wait` returns early).\n"
    << "stop=0\n"
    << "trap 'stop=1; [ -z \"$pid\" ] || kill -USR1 \"$pid\" 2>/dev/null || true' USR1 TERM\n"
    << "\"$bin\" sweep run \"$sweep\" --out \"$dir\" --member \"$task\" &\n"
    << "pid=$!\n"
    << "[ \"$stop\" -eq 0 ] || kill -USR1 \"$pid\" 2>/dev/null || true\n"
    << "while :; do\n"
    << "  wait \"$pid\"\n"
    << "  rc=$?\n"
    << "  kill -0 \"$pid\" 2>/dev/null || break\n"
    << "done\n"
    << "trap - USR1 TERM\n"
    << "if [ \"$rc\" -eq 75 ]; then\n"
    << "  if [ \"$restarts\" -ge " << o.max_requeues << " ]; then\n"
    << "    echo \"sweep task $task: stopped with a checkpoint; not requeued ($restarts "
       "restarts)\"\n"
    << "    exit 75\n"
    << "  fi\n"
    << "  echo \"sweep task $task: checkpoint written, requeueing\"\n"
    << "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${task}\"\n"
    << "  exit 0\n"
    << "fi\n"
    << "exit \"$rc\"\n";
  return s.str();
}

}  // namespace switchyard::launch
