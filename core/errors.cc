#include "core/errors.h"

#include <cstdio>
#include <utility>

namespace switchyard {
namespace {

// The message is printed as one line: control characters from user input (a value with a
// newline, a file name with a tab) are written as escapes.
std::string one_line(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::string path, std::string reason)
    : Error(one_line(path) + ": " + one_line(reason)),
      path_(one_line(std::move(path))),
      reason_(one_line(std::move(reason))) {}

}  // namespace switchyard
