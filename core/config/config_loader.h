// File: core/config/config_loader.h
//
// Loading an ExperimentConfig from protobuf text format (.pbtxt, .textproto, .txt) or JSON
// (.json), and printing the fully resolved config. Every failure is a ConfigError whose message
// is one line naming the file, the position when known, and the field path.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "core/config/experiment.pb.h"

namespace switchyard::config {

// Reads and parses `path`; the format follows the extension (.json = JSON, anything else = text
// format). Unknown fields are errors.
ExperimentConfig load_config_file(const std::string& path);

// Parses protobuf text format into any message (unknown fields are errors); a failure is a
// ConfigError "<source>:<line>:<column>: field '<path>': <reason>".
void parse_text_message(const std::string& text,
                        const std::string& source,
                        google::protobuf::Message* message);

// Parses protobuf text format. `source` names the input in error messages.
ExperimentConfig parse_text_config(const std::string& text, const std::string& source);

// Parses JSON with the schema's field names (snake_case or lowerCamelCase).
ExperimentConfig parse_json_config(const std::string& text, const std::string& source);

// Loads `path`, then applies each "a.b.c=value" override in order.
ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides);

// Text-format rendering of `config` with every default filled in (what the run really uses).
std::string resolved_config_text(const ExperimentConfig& config);

}  // namespace switchyard::config
