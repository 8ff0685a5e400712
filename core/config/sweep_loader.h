// File: core/config/sweep_loader.h
//
// Loading and checking a sweep file (core/config/sweep.proto, protobuf text format). Every
// failure is a ConfigError whose message is one line naming the sweep file and the field:
// "sweeps/x.pbtxt: field 'axis[1].values': must not be empty without 'point's".
#pragma once

#include <string>

#include "core/config/sweep.pb.h"

namespace switchyard::config {

struct LoadedSweep {
  SweepConfig sweep;
  std::string path;       // the sweep file as given
  std::string base_path;  // `base` resolved against the sweep file's directory
};

// Parses sweep text and checks its structure (names, axes, seeds); `source` names the input.
SweepConfig parse_sweep_text(const std::string& text, const std::string& source);

// The structural rules of a sweep (what parse_sweep_text checks); throws the first violation.
void validate_sweep(const SweepConfig& sweep, const std::string& source);

// Reads `path` (a regular UTF-8 file within kMaxConfigBytes), parses and validates it, and checks
// that the base experiment is a readable config file.
LoadedSweep load_sweep_file(const std::string& path);

// True for a non-empty name of [A-Za-z0-9._-] that is not "." or "..": safe as a directory name.
bool is_safe_name(const std::string& name);

}  // namespace switchyard::config
