// File: train/safetensors_header.h
//
// The header of a safetensors file (format in safetensors.h), parsed and validated without
// LibTorch and before any tensor is allocated: the reader sizes every allocation from entries
// this code has checked against the file's real size. The fuzz target
// tests/fuzz/safetensors_fuzz.cc drives these functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace switchyard::train {

// The format's own bound on the JSON header (safetensors refuses larger headers too).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t{100} << 20;

struct SafetensorsEntry {
  std::string name;
  std::string dtype;         // one of F64 F32 BF16 F16 I64 I32 I16 I8 U8 BOOL
  int64_t element_size = 0;  // bytes per element of dtype
  std::vector<int64_t> shape;
  int64_t begin = 0;  // byte range [begin, end) relative to the data section
  int64_t end = 0;
};

struct SafetensorsHeader {
  int64_t data_start = 0;  // 8 + header size: where the data section begins in the file
  std::vector<SafetensorsEntry> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype name, or 0 for an unknown name.
int64_t safetensors_element_size(const std::string& dtype);

// The JSON header's size from the file's first 8 bytes (little-endian u64): refused (ConfigError
// naming `path`) when it exceeds the file or kMaxSafetensorsHeaderBytes.
uint64_t safetensors_header_size(const unsigned char size_le[8],
                                 uint64_t file_size,
                                 const std::string& path);

// Parses `json_text` (the header of a file of `file_size` bytes) and checks every entry: known
// dtype, non-negative dimensions whose product times the element size equals the byte range
// (without overflow), ranges inside the data section and not overlapping, metadata a map of
// strings. Throws ConfigError naming `path` and the tensor.
SafetensorsHeader parse_safetensors_header(const std::string& json_text,
                                           uint64_t file_size,
                                           const std::string& path);

}  // namespace switchyard::train
