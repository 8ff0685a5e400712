// File: train/safetensors.h
//
// Tensors in the safetensors format (https://github.com/huggingface/safetensors, format spec):
//   [8 bytes: little-endian u64 N][N bytes: JSON header][data]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} (offsets
// relative to the data section) plus an optional "__metadata__" object of string pairs. A Python
// user reads our files with `safetensors.torch.load_file`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::train {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes `tensors` (any CPU dtype among F64, F32, BF16, F16, I64, I32, I16, I8, U8, BOOL; any
// layout, written contiguous) to `path`, fsyncs it, and returns the file's size in bytes.
// Names must be unique. Throws Error on I/O failure.
int64_t write_safetensors(const std::string& path,
                          const NamedTensors& tensors,
                          const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads and validates a file written in the format (by us or anyone): header size, JSON, dtypes,
// shapes matching byte ranges, ranges inside the file and not overlapping. Throws Error naming
// the file and the problem.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace switchyard::train
