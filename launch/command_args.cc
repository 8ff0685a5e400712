#include "launch/command_args.h"

namespace switchyard::launch {

namespace po = boost::program_options;

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
