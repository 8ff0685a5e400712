#include "launch/sweep/sweep_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>

#include "core/errors.h"
#include "launch/sweep/member_status.h"
#include "launch/sweep/sweep_manifest.h"

namespace switchyard::launch {
namespace {

// The running member and whether a stop was asked: set by the signal handler (launch/ only).
std::atomic<pid_t> g_child{0};
std::atomic<bool> g_stop{false};

extern "C" void forward_stop(int) {
  g_stop.store(true);
  const pid_t child = g_child.load();
  if (child > 0) ::kill(child, SIGUSR1);
}

// Installs the forwarding handlers for the lifetime of the object.
class StopForwarding {
 public:
  StopForwarding() {
    struct sigaction action {};
    action.sa_handler = forward_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, &old_usr1_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopForwarding() {
    sigaction(SIGUSR1, &old_usr1_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_usr1_ {};
  struct sigaction old_term_ {};
};

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,+") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

// Starts argv with stdout/stderr appended to `log`; returns the exit status (128 + signal for a
// killed process).
int run_logged(const std::vector<std::string>& argv, const std::string& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot open log '" + log + "': " + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw Error(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    // As root (containers, CI) Open MPI needs its permission; ranks sharing cores must yield.
    if (::geteuid() == 0) {
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    ::execvp(args[0], args.data());
    const std::string msg =
        "switchyard sweep: cannot run '" + argv[0] + "': " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(fd);
  g_child.store(pid);
  if (g_stop.load()) ::kill(pid, SIGUSR1);  // a stop that came while starting
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      g_child.store(0);
      throw Error(std::string("waitpid failed: ") + std::strerror(errno));
    }
  }
  g_child.store(0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::vector<std::string> member_command(const PlannedMember& m, const RunnerOptions& options) {
  std::vector<std::string> argv = {options.mpirun,
                                   "-np",
                                   std::to_string(m.world_size),
                                   "--oversubscribe",
                                   "--bind-to",
                                   "none",
                                   "-x",
                                   "OMP_WAIT_POLICY",
                                   "-x",
                                   "OMPI_MCA_mpi_yield_when_idle"};
  argv.insert(argv.end(), options.mpirun_args.begin(), options.mpirun_args.end());
  argv.insert(argv.end(), {options.switchyard_bin, "train", m.dir + "/config.pbtxt"});
  return argv;
}

SweepOutcome run_sweep(const SweepPlan& plan,
                       const std::vector<size_t>& indices,
                       const RunnerOptions& options,
                       std::ostream& out) {
  std::vector<size_t> todo = indices;
  if (todo.empty()) {
    for (size_t i = 0; i < plan.members.size(); ++i) todo.push_back(i);
  }
  SweepOutcome outcome;
  StopForwarding forwarding;
  g_stop.store(false);
  const bool whole_sweep = indices.empty();
  if (!options.dry_run && whole_sweep) write_sweep_manifest(plan);
  for (size_t k = 0; k < todo.size(); ++k) {
    const PlannedMember& m = plan.members.at(todo[k]);
    const std::string prefix = "[" + std::to_string(k + 1) + "/" + std::to_string(todo.size()) +
                               "] " + m.member.name + ": ";
    if (member_status(m.dir) == MemberStatus::kFinished) {
      out << prefix << "finished before, skipped" << std::endl;
      ++outcome.finished;
      ++outcome.skipped;
      continue;
    }
    const std::vector<std::string> argv = member_command(m, options);
    if (options.dry_run) {
      out << prefix << joined(argv) << std::endl;
      continue;
    }
    if (g_stop.load()) {
      outcome.stopped = true;
      break;
    }
    materialize_member(m, plan);
    const std::string log = m.dir + "/train.log";
    out << prefix << "running on " << m.world_size << " rank(s), log " << log << std::endl;
    const auto start = std::chrono::steady_clock::now();
    const int status = run_logged(argv, log);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status == 0) {
      mark_finished(m.dir, seconds);
      ++outcome.finished;
      out << prefix << "finished in " << static_cast<int64_t>(seconds + 0.5) << " s" << std::endl;
    } else if (status == 75) {
      outcome.stopped = true;
      out << prefix << "stopped after a checkpoint (exit 75); run the sweep again to resume"
          << std::endl;
    } else {
      mark_failed(m.dir, status, log);
      ++outcome.failed;
      out << prefix << "FAILED with exit status " << status << " (log " << log << ")" << std::endl;
    }
    if (whole_sweep) write_sweep_manifest(plan);
    if (outcome.stopped) break;
  }
  return outcome;
}

}  // namespace switchyard::launch
