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

// How the mapping will be read. kRandom (madvise MADV_RANDOM) turns off the kernel's
// read-ahead: a sample of a few hundred bytes faults in its own page or two instead of a
// read-ahead window of 128 KiB or more, so the resident set of a long training run grows with
// what it reads, not 100 times that (docs/benchmarks.md, "Data pipeline").
enum class Access { kNormal, kRandom };

class MappedFile {
 public:
  MappedFile() = default;
  // Checks and maps `file` (an empty file maps to no memory: data() is null, size() 0).
  explicit MappedFile(const InputFile& file, Access access = Access::kNormal);
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
