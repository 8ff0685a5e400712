#include "launch/command_args.h"

#include <filesystem>

#include "core/errors.h"

namespace switchyard::launch {

namespace po = boost::program_options;

void create_parent_directory(const std::string& prefix, const std::string& option) {
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw ConfigError(option,
                      "cannot create the directory '" + parent.string() + "': " + ec.message());
  }
}

void parse_command_args(const std::vector<std::string>& args,
                        const po::options_description& shown,
                        const std::vector<Positional>& positionals) {
  po::options_description all;
  all.add(shown);
  po::positional_options_description positional;
  for (const Positional& p : positionals) {
    all.add_options()(p.name, p.value);
    positional.add(p.name, p.max_count);
  }
  po::variables_map vm;
  po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                .options(all)
                .positional(positional)
                .run(),
            vm);
  po::notify(vm);
}

}  // namespace switchyard::launch
