// Fuzz target: the `--set path=value` override parser. Input: one assignment per line, applied
// in order to a default config. Properties: a bad assignment is a one-line ConfigError naming a
// path; the config after any sequence of accepted assignments prints and parses back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/config_loader.h"
#include "core/config/config_overrides.h"
#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"

namespace sy = switchyard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  sy::config::ExperimentConfig config;
  for (size_t start = 0; start <= input.size();) {
    const size_t end = input.find('\n', start);
    const std::string line =
        input.substr(start, end == std::string::npos ? std::string::npos : end - start);
    try {
      sy::config::apply_override(&config, line);
    } catch (const sy::ConfigError& e) {
      sy::fuzz::check_refusal(e);
      sy::fuzz::require(!e.path().empty(), "override error without a path: " + line);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  const std::string printed = sy::config::resolved_config_text(config);
  try {
    sy::config::parse_text_config(printed, "printed");
  } catch (const sy::ConfigError& e) {
    sy::fuzz::fail(std::string("config after overrides does not parse back: ") + e.what());
  }
  return 0;
}
