// File: launch/plan/cluster_loader.h
//
// The cluster a plan is priced on: a shipped preset by name (launch/plan/presets/*.pbtxt,
// embedded in the executable at build time, so nothing is looked up at run time) or a
// text-format ClusterSpec file (launch/plan/cluster.proto). Every problem is a ConfigError of
// one line naming the file (or the preset) and the field: the `switchyard` tool exits 2.
#pragma once

#include <string>
#include <vector>

#include "launch/plan/cluster.pb.h"

namespace switchyard::plan {

// Names of the shipped presets, sorted.
std::vector<std::string> preset_names();

// `name_or_path`: a preset name (no '/' and no '.') or a path to a ClusterSpec text file.
// Unknown preset names, unreadable files, parse errors and invalid fields throw ConfigError.
ClusterSpec load_cluster(const std::string& name_or_path);

// Parses and validates ClusterSpec text; `source` names it in errors.
ClusterSpec parse_cluster_text(const std::string& text, const std::string& source);

// Throws ConfigError(source, "field 'x': reason") on the first invalid field.
void validate_cluster(const ClusterSpec& cluster, const std::string& source);

}  // namespace switchyard::plan
