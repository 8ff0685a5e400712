// Fuzz target: the experiment config loader (protobuf text format and JSON) with overrides, and
// the validator on whatever parses. Input: a config; lines after a line "#--set" are `--set`
// assignments. Properties: bad input is a one-line ConfigError, nothing else escapes; a config
// that loads prints (every default filled in) to text that loads back to the same config.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config_loader.h"
#include "core/config/config_overrides.h"
#include "core/config/config_validation.h"
#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"

namespace sy = switchyard;

namespace {

void check_loaded(const sy::config::ExperimentConfig& config) {
  sy::config::ValidationContext context;
  context.check_files = false;
  for (int world : {0, 1, 3, 8}) {
    context.world_size = world;
    for (const auto& issue : sy::config::find_config_issues(config, context)) {
      sy::fuzz::require(issue.reason.find('\n') == std::string::npos,
                        "multi-line issue " + issue.path + ": " + issue.reason);
    }
  }
  sy::config::find_config_warnings(config);
  const std::string printed = sy::config::resolved_config_text(config);
  sy::config::ExperimentConfig back;
  try {
    back = sy::config::parse_text_config(printed, "printed");
  } catch (const sy::ConfigError& e) {
    sy::fuzz::fail(std::string("resolved config does not parse back: ") + e.what());
  }
  sy::fuzz::require(sy::config::resolved_config_text(back) == printed,
                    "resolved config does not print back the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text = input;
  std::vector<std::string> sets;
  const auto marker = input.find("\n#--set\n");
  if (marker != std::string::npos) {
    text = input.substr(0, marker);
    std::string rest = input.substr(marker + 8);
    for (size_t start = 0; start <= rest.size();) {
      const size_t end = rest.find('\n', start);
      sets.push_back(
          rest.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  for (const bool json : {false, true}) {
    try {
      sy::config::ExperimentConfig config = json ? sy::config::parse_json_config(text, "in.json")
                                                 : sy::config::parse_text_config(text, "in.pbtxt");
      sy::config::apply_overrides(&config, sets);
      check_loaded(config);
    } catch (const sy::ConfigError& e) {
      sy::fuzz::check_refusal(e);
    }
  }
  return 0;
}
