// File: launch/config_args.h
//
// The arguments every config-driven command takes: FILE [--set path=value ...] [--world-size N].
#pragma once

#include <string>
#include <vector>

#include <boost/program_options/options_description.hpp>

namespace switchyard::launch {

struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets;
  int world_size = 0;
  bool help = false;
};

// Parses `args` (without the command words). Prints `usage` and the options on --help. Throws
// UsageError for a missing FILE; boost::program_options errors propagate (exit 2 in run_cli).
// `extra` adds command-specific options.
ConfigArgs parse_config_args(const std::vector<std::string>& args,
                             const std::string& command,
                             const std::string& usage,
                             const boost::program_options::options_description& extra = {});

}  // namespace switchyard::launch
