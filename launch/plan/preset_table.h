// File: launch/plan/preset_table.h
//
// The shipped cluster presets, embedded at build time from launch/plan/presets/*.pbtxt
// (generated preset_table.cc, see launch/CMakeLists.txt).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::plan {

// (name = file name without .pbtxt, text), sorted by name.
const std::vector<std::pair<std::string_view, std::string_view>>& preset_texts();

}  // namespace switchyard::plan
