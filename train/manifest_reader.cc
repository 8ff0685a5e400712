#include "train/manifest_reader.h"

#include <set>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "core/errors.h"

namespace switchyard::train {
namespace {

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

CheckpointManifest parse_manifest(const std::string& text, const std::string& dir) {
  CheckpointManifest m;
  // protobuf would log parse errors to stderr; the one-line error below says it instead.
  class Quiet : public google::protobuf::io::ErrorCollector {
    void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  } quiet;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFromString(text, &m)) {
    throw ConfigError(dir, "checkpoint manifest.pbtxt does not parse");
  }
  if (m.format_version() < kOldestManifestVersion || m.format_version() > kManifestFormatVersion) {
    throw ConfigError(dir, "checkpoint format version " + std::to_string(m.format_version()) +
                               " is not supported (this build reads " +
                               std::to_string(kOldestManifestVersion) + " to " +
                               std::to_string(kManifestFormatVersion) + ")");
  }
  if (m.step() < 0) throw ConfigError(dir, "checkpoint manifest has a negative step");
  std::set<std::string> names;
  for (const CheckpointFile& f : m.files()) {
    const std::string& name = f.name();
    if (name.empty() || name == "." || name == ".." || name == "manifest.pbtxt" ||
        name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
      throw ConfigError(dir, "checkpoint manifest lists an invalid file name '" + name + "'");
    }
    if (!names.insert(name).second) {
      throw ConfigError(dir, "checkpoint manifest lists file '" + name + "' twice");
    }
    if (f.bytes() < 0) {
      throw ConfigError(dir, "checkpoint manifest gives file '" + name + "' a negative size");
    }
    if (!is_sha256_hex(f.sha256())) {
      throw ConfigError(dir, "checkpoint manifest gives file '" + name +
                                 "' a SHA-256 that is not 64 lower-case hex digits");
    }
  }
  return m;
}

}  // namespace switchyard::train
