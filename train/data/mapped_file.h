// File: train/data/mapped_file.h
//
// A user file mapped read-only into memory (the token dataset's .idx and .bin): pages are read
// on first touch and may be dropped by the kernel, so memory does not grow with the file's size.
// The path is checked as every user file is (core/input_file.h: a regular file within a bound,
// one-line ConfigError naming it) before it is mapped.
#pragma once

#include <cstdint>
#include <string>

#include "core/input_file.h"

namespace switchyard::train::data {

class MappedFile {
 public:
  MappedFile() = default;
  // Checks and maps `file` (an empty file maps to no memory: data() is null, size() 0).
  explicit MappedFile(const InputFile& file);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  void unmap();
  const unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace switchyard::train::data
