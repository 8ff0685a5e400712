// File: tests/fuzz/fuzz_util.h
//
// Shared by the fuzz targets: the properties every entry point must keep on any input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/errors.h"

namespace switchyard::fuzz {

// A failed property: print it and abort, which libFuzzer (and the replay driver) report as a
// crash with the input that caused it.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

inline void require(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// A refusal of bad input is a ConfigError with a one-line message (what the tool prints).
inline void check_refusal(const ConfigError& e) {
  const std::string message = e.what();
  require(message.find('\n') == std::string::npos && message.find('\r') == std::string::npos,
          "error message is not one line: " + message);
  require(!message.empty(), "empty error message");
}

}  // namespace switchyard::fuzz
