// File: core/config/proto_paths.h
//
// Helpers that turn protobuf's own error positions into config field paths, so every config
// error names the field the user has to fix.
#pragma once

#include <string>

namespace switchyard::config {

// The dotted field path that text-format `text` is at on 0-based `line`, `column`: the enclosing
// message fields plus the last field name on that line before the column. Best effort: returns
// what it can recognise (possibly empty).
std::string text_field_path_at(const std::string& text, int line, int column);

}  // namespace switchyard::config
