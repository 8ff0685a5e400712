// `switchyard config validate|print FILE [--set path=value ...] [--world-size N]`
#include <iostream>
#include <string>
#include <vector>

#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "launch/cli.h"
#include "launch/config_args.h"
#include "launch/run_env.h"

namespace switchyard::launch {
namespace {

int run_validate(const std::vector<std::string>& args) {
  const ConfigArgs parsed =
      parse_config_args(args, "config validate",
                        "Checks FILE (.pbtxt text format or .json) and every cross-field rule.");
  if (parsed.help) return kExitOk;
  const config::ExperimentConfig cfg = config::load_config(parsed.file, parsed.sets);
  config::ValidationContext context;
  context.world_size = parsed.world_size > 0 ? parsed.world_size : read_run_env().world_size;
#ifdef SWITCHYARD_WITH_NCCL
  context.nccl_available = true;
#endif
  const auto issues = config::find_config_issues(cfg, context);
  for (const auto& issue : issues) {
    std::cerr << "switchyard: error: " << issue.path << ": " << issue.reason << "\n";
  }
  if (!issues.empty()) return kExitUsage;
  for (const auto& w : config::find_config_warnings(cfg)) {
    std::cerr << "switchyard: warning: " << w.path << ": " << w.reason << "\n";
  }
  const int world = context.world_size > 0 ? context.world_size : cfg.parallel().world_size();
  std::cout << parsed.file << ": valid"
            << (world > 0
                    ? " for " + std::to_string(world) + " ranks"
                    : " (world-size rules not checked: no --world-size or parallel.world_size)")
            << "\n";
  return kExitOk;
}

int run_print(const std::vector<std::string>& args) {
  const ConfigArgs parsed = parse_config_args(
      args, "config print", "Prints FILE with every default filled in, as the run will use it.");
  if (parsed.help) return kExitOk;
  std::cout << config::resolved_config_text(config::load_config(parsed.file, parsed.sets));
  return kExitOk;
}

void print_config_help() {
  std::cout << "usage: switchyard config <validate|print> FILE [--set path=value ...]\n\n"
            << "  validate   check a config and every cross-field rule; exit 2 on any problem\n"
            << "  print      print the fully resolved config (every default filled in)\n";
}

int run_config(const std::vector<std::string>& args) {
  if (args.size() < 2) {
    print_config_help();
    throw UsageError{"config", "missing subcommand"};
  }
  const std::string& sub = args[1];
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  if (sub == "--help" || sub == "-h") {
    print_config_help();
    return kExitOk;
  }
  if (sub == "validate") return run_validate(rest);
  if (sub == "print") return run_print(rest);
  throw UsageError{"config", "unknown subcommand '" + sub + "'"};
}

}  // namespace

Command config_command() {
  return {"config", "validate or print an experiment config", run_config};
}

}  // namespace switchyard::launch
