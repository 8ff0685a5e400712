// File: core/config/config_reference.h
//
// The config reference (docs/config.md) generated from the schema's own comments, and the check
// that every message, field and enum value has one. The comments only exist in a descriptor set
// written with `protoc --include_source_info`; the compiled-in descriptors have none.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

namespace switchyard::config {

// Markdown: one table per message reachable from `root`, in schema order, with each field's path,
// type, default and comment; enums listed with their values' comments.
std::string config_reference_markdown(const google::protobuf::Descriptor* root);

// "ModelConfig.hidden_size", ... for every message, field and enum value below `root` whose
// leading comment is empty.
std::vector<std::string> undocumented_elements(const google::protobuf::Descriptor* root);

}  // namespace switchyard::config
