// File: launch/command_args.h
//
// The argument parsing every `switchyard` command shares: named options (shown by --help) and
// positional arguments, with Boost.Program_options.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace switchyard::launch {

struct Positional {
  const char* name;                               // never shown; for messages
  boost::program_options::value_semantic* value;  // e.g. po::value(&files)->composing()
  int max_count;                                  // -1: all the remaining arguments
};

// Parses args[1..] (args[0] is the command's name) into the variables bound in `shown` and in
// `positionals`, in order. Unknown options and bad values throw Boost's errors (exit 2 in the
// CLI).
// Creates the directory that will hold `prefix`'s files (e.g. runs/data for runs/data/x), as
// `mkdir -p`; an error names `option` and the reason in one line (ConfigError).
void create_parent_directory(const std::string& prefix, const std::string& option);

void parse_command_args(const std::vector<std::string>& args,
                        const boost::program_options::options_description& shown,
                        const std::vector<Positional>& positionals);

}  // namespace switchyard::launch
