#include "launch/cli.h"

#include <cstdio>
#include <exception>
#include <iostream>

#include <boost/program_options/errors.hpp>

#include "core/errors.h"

namespace switchyard::launch {
namespace {

void print_tool_help(const std::vector<Command>& commands) {
  std::cout << "switchyard: distributed Mixture-of-Experts training (LibTorch + MPI)\n\n"
            << "usage: switchyard <command> [args]   (switchyard <command> --help for details)\n\n"
            << "commands:\n";
  for (const Command& c : commands) {
    std::cout << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ')
              << c.summary << "\n";
  }
  std::cout << "\nexit status: 0 success, 2 usage or config error, 1 runtime failure\n";
}

}  // namespace

std::vector<Command> builtin_commands() {
  return {config_command(), train_command(), generate_command(), tokenizer_command(),
          data_command(),   plot_command(),  sweep_command(),    report_command(),
          bench_command(),  plan_command()};
}

int run_cli(int argc, char** argv) {
  const std::vector<Command> commands = builtin_commands();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_tool_help(commands);
    std::cerr << "switchyard: error: no command given\n";
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_tool_help(commands);
    return kExitOk;
  }
  const Command* command = nullptr;
  for (const Command& c : commands) {
    if (c.name == args[0]) command = &c;
  }
  if (command == nullptr) {
    std::cerr << "switchyard: error: unknown command '" << args[0]
              << "' (see 'switchyard --help')\n";
    return kExitUsage;
  }
  try {
    return command->run(args);
  } catch (const UsageError& e) {
    std::cerr << "switchyard " << e.command << ": error: " << e.message << " (see 'switchyard "
              << e.command << " --help')\n";
    return kExitUsage;
  } catch (const boost::program_options::error& e) {
    std::cerr << "switchyard " << command->name << ": error: " << e.what() << " (see 'switchyard "
              << command->name << " --help')\n";
    return kExitUsage;
  } catch (const ConfigError& e) {
    std::cerr << "switchyard: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "switchyard: fatal: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace switchyard::launch
