#include "launch/config_args.h"

#include <iostream>

#include <boost/program_options.hpp>

#include "launch/cli.h"

namespace switchyard::launch {

namespace po = boost::program_options;

ConfigArgs parse_config_args(const std::vector<std::string>& args,
                             const std::string& command,
                             const std::string& usage,
                             const po::options_description& extra) {
  ConfigArgs parsed;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&parsed.help), "show this help")(
      "set", po::value(&parsed.sets)->composing(),
      "override a field: --set path.to.field=value (repeatable; lists as a,b,c)")(
      "world-size", po::value(&parsed.world_size)->default_value(0),
      "check the world-size rules for N ranks (default: the launcher's, else "
      "parallel.world_size)");
  options.add(extra);
  po::options_description all;
  all.add(options).add_options()("file", po::value(&parsed.file));
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (parsed.help) {
    std::cout << "usage: switchyard " << command << " FILE [--set path=value ...]\n\n"
              << usage << "\n\n"
              << options;
    return parsed;
  }
  if (parsed.file.empty()) throw UsageError{command, "missing config FILE"};
  if (parsed.world_size < 0) throw UsageError{command, "--world-size must be >= 0"};
  return parsed;
}

}  // namespace switchyard::launch
