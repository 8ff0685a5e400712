// File: launch/cli.h
//
// The `switchyard` command line: `switchyard <command> [args]`. Each command registers a name,
// a one-line summary and a function taking its own arguments; commands parse their options with
// Boost.Program_options. Exit codes: 0 success, 2 usage or config error, 1 runtime failure.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace switchyard::launch {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown for a bad command line; main() prints it with the command's usage hint and exits 2.
struct UsageError {
  std::string command;  // e.g. "config validate"
  std::string message;
};

struct Command {
  std::string name;
  std::string summary;
  // argv[0] is the command name; returns the exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

// The built-in commands, in the order `--help` lists them.
std::vector<Command> builtin_commands();

// `switchyard config ...`
Command config_command();
// `switchyard train ...`
Command train_command();
// `switchyard generate ...`
Command generate_command();
// `switchyard tokenizer train ...`
Command tokenizer_command();
// `switchyard data prepare|info ...`
Command data_command();
// `switchyard plot RUN_DIR`
Command plot_command();

// `switchyard sweep run|slurm|list SWEEP`
Command sweep_command();
// `switchyard report DIR...`
Command report_command();

// `switchyard bench a2a ...` (under mpirun)
Command bench_command();
// launch/plan_command.cc
Command plan_command();

// Parses argv and runs the command; maps exceptions to exit codes and one-line messages.
int run_cli(int argc, char** argv);

}  // namespace switchyard::launch
