// File: train/data/output_file.h
//
// A file written under a temporary name beside its final path and renamed into place only when
// it is complete (data prepare, tokenizer training): a failure or a kill leaves the previous
// file (or none), never a half-written one. The temporary `<path>.tmp-<pid>` is created
// exclusively and removed again unless commit() ran. Write failures (a full disk) are an Error
// naming the final path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard::train::data {

class OutputFile {
 public:
  explicit OutputFile(std::string path);
  ~OutputFile();  // removes the temporary file unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_; }

  // Appends through a buffer.
  void write(const void* data, size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Writes at `offset`, after flushing (the index header, once the counts are known).
  void write_at(uint64_t offset, std::string_view bytes);
  uint64_t bytes_written() const { return written_; }

  // Flushes, syncs to disk and closes; the file is complete but not yet in place.
  void finish();
  // Renames the finished file onto its path.
  void commit();

 private:
  void flush();
  [[noreturn]] void fail(const std::string& what, int err) const;

  std::string path_;
  std::string temporary_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t written_ = 0;
  bool finished_ = false;
  bool committed_ = false;
};

}  // namespace switchyard::train::data
