// Fuzz target: the safetensors reader's validation (train/safetensors_header.h), which runs
// before any allocation the header sizes. Input: a whole file. Properties: bad input is a
// one-line ConfigError; an accepted header describes only byte ranges inside the file, whose
// sizes are exactly the element count times the element size, and that do not overlap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/safetensors_header.h"

namespace sy = switchyard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;  // the reader refuses these before calling the parser
  try {
    const uint64_t n = sy::train::safetensors_header_size(data, size, "in.safetensors");
    const std::string text(reinterpret_cast<const char*>(data) + 8, n);
    const sy::train::SafetensorsHeader h =
        sy::train::parse_safetensors_header(text, size, "in.safetensors");
    sy::fuzz::require(h.data_start == static_cast<int64_t>(8 + n), "data_start");
    const auto data_size = static_cast<int64_t>(size) - h.data_start;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (const auto& e : h.tensors) {
      sy::fuzz::require(0 <= e.begin && e.begin <= e.end && e.end <= data_size,
                        "range outside the data section: " + e.name);
      unsigned __int128 bytes = static_cast<unsigned __int128>(e.element_size);
      for (const int64_t d : e.shape) {
        sy::fuzz::require(d >= 0, "negative dimension accepted: " + e.name);
        bytes *= static_cast<unsigned __int128>(d);
        if (bytes > static_cast<unsigned __int128>(size)) bytes = size + 1;  // keep it bounded
      }
      sy::fuzz::require(bytes == static_cast<unsigned __int128>(e.end - e.begin),
                        "shape does not match the byte range: " + e.name);
      if (e.end > e.begin) ranges.emplace_back(e.begin, e.end);
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      sy::fuzz::require(ranges[i].first >= ranges[i - 1].second, "overlapping ranges accepted");
    }
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
  }
  return 0;
}
