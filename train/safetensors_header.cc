#include "train/safetensors_header.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace switchyard::train {
namespace {

using nlohmann::json;

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// A JSON integer that fits in int64 and is >= 0, or -1.
int64_t non_negative_int(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(kMaxInt) ? -1 : static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    return i < 0 ? -1 : i;
  }
  return -1;
}

SafetensorsEntry parse_entry(const std::string& name,
                             const json& entry,
                             int64_t data_size,
                             const std::string& path) {
  const std::string where = "tensor '" + name + "'";
  auto bad = [&](const std::string& reason) { return ConfigError(path, where + ": " + reason); };
  if (!entry.is_object()) throw bad("entry is not a JSON object");
  SafetensorsEntry e;
  e.name = name;
  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) throw bad("has no string 'dtype'");
  e.dtype = dtype->get<std::string>();
  e.element_size = safetensors_element_size(e.dtype);
  if (e.element_size == 0) throw bad("unsupported dtype '" + e.dtype + "'");
  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) throw bad("has no 'shape' array");
  int64_t bytes = e.element_size;
  bool overflow = false;
  for (const json& d : *shape) {
    const int64_t n = non_negative_int(d);
    if (n < 0) throw bad("shape holds a dimension that is not a non-negative integer");
    e.shape.push_back(n);
    if (n != 0 && bytes > kMaxInt / n) overflow = true;
    if (!overflow) bytes *= n;
  }
  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
    throw bad("has no 'data_offsets' pair");
  }
  e.begin = non_negative_int((*offsets)[0]);
  e.end = non_negative_int((*offsets)[1]);
  if (e.begin < 0 || e.end < e.begin || e.end > data_size) {
    throw bad("data_offsets outside the data section of " + std::to_string(data_size) + " bytes");
  }
  for (const int64_t d : e.shape) {
    if (d == 0) bytes = 0, overflow = false;
  }
  if (overflow || bytes != e.end - e.begin) throw bad("shape does not match its byte range");
  return e;
}

}  // namespace

int64_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, int64_t> kSizes = {
      {"F64", 8}, {"F32", 4}, {"BF16", 2}, {"F16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1}};
  const auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

uint64_t safetensors_header_size(const unsigned char size_le[8],
                                 uint64_t file_size,
                                 const std::string& path) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(size_le[i]) << (8 * i);
  if (file_size < 8 || n > file_size - 8) {
    throw ConfigError(path, "header size " + std::to_string(n) + " exceeds the file (" +
                                std::to_string(file_size) +
                                " bytes): truncated or not safetensors");
  }
  if (n > kMaxSafetensorsHeaderBytes) {
    throw ConfigError(path, "header size " + std::to_string(n) +
                                " is above the format's bound of " +
                                std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  return n;
}

SafetensorsHeader parse_safetensors_header(const std::string& json_text,
                                           uint64_t file_size,
                                           const std::string& path) {
  if (file_size < 8 + json_text.size()) {
    throw ConfigError(path, "header exceeds the file: truncated");
  }
  json header;
  try {
    header = json::parse(json_text);
  } catch (const json::exception& e) {
    throw ConfigError(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw ConfigError(path, "header is not a JSON object");
  SafetensorsHeader out;
  out.data_start = 8 + static_cast<int64_t>(json_text.size());
  const auto data_size = static_cast<int64_t>(file_size - 8 - json_text.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw ConfigError(path, "__metadata__ is not a JSON object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) {
          throw ConfigError(path, "__metadata__ value of '" + k + "' is not a string");
        }
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    out.tensors.push_back(parse_entry(name, entry, data_size, path));
  }
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const SafetensorsEntry& e : out.tensors) {
    if (e.end > e.begin) ranges.emplace_back(e.begin, e.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      throw ConfigError(path, "tensors' byte ranges overlap");
    }
  }
  return out;
}

}  // namespace switchyard::train
