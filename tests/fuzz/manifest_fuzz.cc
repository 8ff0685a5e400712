// Fuzz target: the checkpoint manifest reader (train/manifest_reader.h). Input: manifest.pbtxt.
// Properties: bad input is a one-line ConfigError; an accepted manifest's file names stay inside
// the checkpoint directory, are unique, with sizes >= 0 and 64-digit hex digests.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/manifest_reader.h"

namespace sy = switchyard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const sy::train::CheckpointManifest m = sy::train::parse_manifest(text, "ckpt");
    std::set<std::string> names;
    for (const auto& f : m.files()) {
      sy::fuzz::require(!f.name().empty() && f.name().find('/') == std::string::npos &&
                            f.name() != "." && f.name() != "..",
                        "file name escapes the directory: " + f.name());
      sy::fuzz::require(names.insert(f.name()).second, "duplicate file accepted: " + f.name());
      sy::fuzz::require(f.bytes() >= 0, "negative size accepted");
      sy::fuzz::require(f.sha256().size() == 64, "bad digest accepted");
    }
    sy::fuzz::require(m.format_version() >= sy::train::kOldestManifestVersion &&
                          m.format_version() <= sy::train::kManifestFormatVersion,
                      "unknown format version accepted");
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
  }
  return 0;
}
