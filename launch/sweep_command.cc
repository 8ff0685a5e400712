// `switchyard sweep run|slurm|list SWEEP [options]`: the members of a sweep file
// (core/config/sweep.proto, docs/sweeps.md) run here one after the other under mpirun, or as a
// Slurm job array, or listed with their status.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include <boost/program_options.hpp>

#include "core/errors.h"
#include "launch/cli.h"
#include "launch/sweep/atomic_write.h"
#include "launch/sweep/member_status.h"
#include "launch/sweep/slurm_array_script.h"
#include "launch/sweep/sweep_manifest.h"
#include "launch/sweep/sweep_runner.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: switchyard sweep run|slurm|list SWEEP [options]\n\n"
    "  run    run every member not yet finished, one after the other, each under mpirun at its\n"
    "         world size (finished members are skipped; a failed one is reported and the\n"
    "         others go on; exit 1 if any failed, 75 if stopped by SIGUSR1/SIGTERM)\n"
    "  slurm  write <sweep dir>/sweep.sbatch, a Slurm job array with one task per member, and\n"
    "         print the sbatch command\n"
    "  list   print the members, their world sizes, overrides and status\n";

struct SweepArgs {
  std::string action, file, out, mpirun = "mpirun", time = "02:00:00";
  std::vector<std::string> mpirun_args;
  std::vector<size_t> members;
  int max_parallel = 0;
  bool dry_run = false, help = false;
};

SweepArgs parse(const std::vector<std::string>& args, po::options_description* shown) {
  SweepArgs a;
  shown->add_options()("help,h", po::bool_switch(&a.help), "show this help")(
      "out", po::value(&a.out), "the sweep's directory (default <output_root>/<name>)")(
      "dry-run", po::bool_switch(&a.dry_run), "run: print each member's command, run nothing")(
      "member", po::value(&a.members)->composing(),
      "run: only the member with this index (repeatable; what a Slurm array task runs)")(
      "mpirun", po::value(&a.mpirun), "run: the mpirun executable (default mpirun)")(
      "mpirun-arg", po::value(&a.mpirun_args)->composing(),
      "run: one more argument for mpirun (repeatable)")(
      "time", po::value(&a.time), "slurm: time limit of each array task (default 02:00:00)")(
      "max-parallel", po::value(&a.max_parallel),
      "slurm: at most N array tasks at once (default: no limit)");
  po::options_description all;
  all.add(*shown).add_options()("action", po::value(&a.action))("file", po::value(&a.file));
  po::positional_options_description positional;
  positional.add("action", 1).add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  return a;
}

std::string absolute(const std::string& path) {
  return fs::absolute(fs::path(path)).lexically_normal().string();
}

std::string self_executable() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the switchyard executable (/proc/self/exe): " + ec.message());
  return self.string();
}

int list(const SweepPlan& plan) {
  std::cout << "sweep " << plan.loaded.sweep.name() << ": " << plan.members.size()
            << " member(s) in " << plan.dir << "\n";
  for (const PlannedMember& m : plan.members) {
    std::cout << std::setw(4) << m.member.index << "  " << std::left << std::setw(9)
              << status_name(member_status(m.dir)) << std::right << " np " << m.world_size << "  "
              << m.member.name << "  ";
    const size_t common = static_cast<size_t>(plan.loaded.sweep.set_size());
    for (size_t i = common; i < m.member.overrides.size(); ++i)
      std::cout << (i > common ? " " : "") << "--set " << m.member.overrides[i];
    std::cout << "\n";
  }
  return kExitOk;
}

int slurm(const SweepPlan& plan, const SweepArgs& a) {
  if (plan.members.empty()) throw UsageError{"sweep", "the sweep has no members"};
  SlurmScriptOptions o;
  o.switchyard_bin = self_executable();
  o.sweep_file = absolute(a.file);
  o.sweep_dir = absolute(plan.dir);
  o.workdir = fs::current_path().string();
  o.time_limit = a.time;
  o.max_parallel = a.max_parallel;
  write_sweep_manifest(plan);
  const std::string script = o.sweep_dir + "/sweep.sbatch";
  write_file_atomically(script, slurm_array_script(plan, o));
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  std::cout << "wrote " << script << " (" << plan.members.size() << " array task(s))\n"
            << "submit: sbatch " << script << "\n";
  return kExitOk;
}

int run(const SweepPlan& plan, const SweepArgs& a) {
  for (size_t i : a.members) {
    if (i >= plan.members.size())
      throw UsageError{"sweep", "--member " + std::to_string(i) +
                                    " is out of range: the sweep has " +
                                    std::to_string(plan.members.size()) + " member(s)"};
  }
  RunnerOptions o;
  o.switchyard_bin = self_executable();
  o.mpirun = a.mpirun;
  o.mpirun_args = a.mpirun_args;
  o.dry_run = a.dry_run;
  const SweepOutcome outcome = run_sweep(plan, a.members, o, std::cout);
  if (a.dry_run) return kExitOk;
  std::cout << "sweep " << plan.loaded.sweep.name() << ": " << outcome.finished << " finished ("
            << outcome.skipped << " before this run), " << outcome.failed << " failed"
            << (outcome.stopped ? ", stopped by a signal" : "") << "; " << plan.dir << "\n";
  if (outcome.exit_code() == 0 && a.members.empty())
    std::cout << "report: switchyard report " << plan.dir << "\n";
  return outcome.exit_code();
}

int run_sweep_command(const std::vector<std::string>& args) {
  po::options_description shown("options");
  const SweepArgs a = parse(std::vector<std::string>(args.begin() + 1, args.end()), &shown);
  if (a.help) {
    std::cout << kUsage << "\n" << shown;
    return kExitOk;
  }
  if (a.action != "run" && a.action != "slurm" && a.action != "list")
    throw UsageError{"sweep", a.action.empty()
                                  ? "missing action (run, slurm or list)"
                                  : "unknown action '" + a.action + "' (run, slurm or list)"};
  if (a.file.empty()) throw UsageError{"sweep", "missing SWEEP file"};
  if (a.action != "run" && (a.dry_run || !a.members.empty()))
    throw UsageError{"sweep", "--dry-run and --member are options of 'sweep run'"};
  if (a.max_parallel < 0) throw UsageError{"sweep", "--max-parallel must be >= 0"};
  const SweepPlan plan = plan_sweep(a.file, a.out, /*check_files=*/a.action != "list");
  if (a.action == "list") return list(plan);
  if (a.action == "slurm") return slurm(plan, a);
  return run(plan, a);
}

}  // namespace

Command sweep_command() {
  return {"sweep", "run a sweep's members here (mpirun) or as a Slurm job array",
          run_sweep_command};
}

}  // namespace switchyard::launch
