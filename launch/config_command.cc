// `switchyard config validate|print FILE [--set path=value ...] [--world-size N]`
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "launch/cli.h"
#include "launch/run_env.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;

struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets;
  int world_size = 0;
  bool help = false;
};

po::options_description config_options(ConfigArgs* out) {
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&out->help), "show this help")(
      "set", po::value(&out->sets)->composing(),
      "override a field: --set path.to.field=value (repeatable; lists as a,b,c)")(
      "world-size", po::value(&out->world_size)->default_value(0),
      "check the world-size rules for N ranks (default: the launcher's, else "
      "parallel.world_size)");
  return options;
}

ConfigArgs parse_config_args(const std::vector<std::string>& args, const std::string& name) {
  ConfigArgs parsed;
  po::options_description options = config_options(&parsed);
  po::options_description all;
  all.add(options).add_options()("file", po::value(&parsed.file));
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (parsed.help) {
    std::cout << "usage: switchyard config " << name << " FILE [--set path=value ...]\n\n"
              << (name == "validate"
                      ? "Checks FILE (.pbtxt text format or .json) and every cross-field rule.\n"
                      : "Prints FILE with every default filled in, as the run will use it.\n")
              << "\n"
              << options;
    return parsed;
  }
  if (parsed.file.empty()) throw UsageError{"config " + name, "missing config FILE"};
  if (parsed.world_size < 0) throw UsageError{"config " + name, "--world-size must be >= 0"};
  return parsed;
}

int run_validate(const std::vector<std::string>& args) {
  const ConfigArgs parsed = parse_config_args(args, "validate");
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
  const int world = context.world_size > 0 ? context.world_size : cfg.parallel().world_size();
  std::cout << parsed.file << ": valid"
            << (world > 0
                    ? " for " + std::to_string(world) + " ranks"
                    : " (world-size rules not checked: no --world-size or parallel.world_size)")
            << "\n";
  return kExitOk;
}

int run_print(const std::vector<std::string>& args) {
  const ConfigArgs parsed = parse_config_args(args, "print");
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
