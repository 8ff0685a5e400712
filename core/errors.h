// File: core/errors.h
//
// The error types of Switchyard, in three tiers:
//   * ConfigError  - bad user input (config file, override, CLI argument, data file). The
//                    command-line tool prints the one-line message and exits with status 2.
//   * InternalError - an invariant was violated (a bug); thrown by SY_CHECK with file:line.
//   * Error        - any other runtime failure (I/O, communication); exit status 1.
// Communication errors derive from Error and live in comm/.
#pragma once

#include <stdexcept>
#include <string>

namespace switchyard {

// Base of every error Switchyard throws. The message is one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Invalid user input. `path` is the config field path (e.g. "model.hidden_size") or the file the
// problem is in; what() is "<path>: <reason>".
class ConfigError : public Error {
 public:
  ConfigError(std::string path, std::string reason);
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

// A violated invariant: a bug in Switchyard, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace switchyard
