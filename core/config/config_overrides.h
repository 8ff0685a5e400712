// File: core/config/config_overrides.h
//
// Command-line overrides "a.b.c=value", applied through protobuf reflection. The path must name
// a scalar, enum or repeated scalar field (sub-messages are created on the way); repeated fields
// take a comma-separated list, optionally in brackets ("[1,2,3]"), replacing their contents.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace switchyard::config {

// Applies one override to `message`. Throws ConfigError naming the path on an unknown field, a
// path through a non-message field, or a value that does not parse as the field's type.
void apply_override(google::protobuf::Message* message, const std::string& assignment);

void apply_overrides(google::protobuf::Message* message,
                     const std::vector<std::string>& assignments);

}  // namespace switchyard::config
