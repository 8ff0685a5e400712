// File: train/tensorboard/record_writer.h
//
// TFRecord files, the container of TensorBoard event files: a sequence of records, each
//   uint64 length (little-endian)
//   uint32 masked CRC-32C of those 8 length bytes (little-endian)
//   `length` bytes of data
//   uint32 masked CRC-32C of the data (little-endian)
// (crc32c.h for the mask).
#pragma once

#include <string>
#include <string_view>

namespace switchyard::tensorboard {

// The bytes of one record holding `data`.
std::string frame_record(std::string_view data);

// Appends framed records to one file. Each write() hands the whole record to the operating
// system before it returns (nothing is buffered in the process), so a record is on disk, or
// reported as not written, when write() returns.
class RecordWriter {
 public:
  // Opens `path` for appending, creating it (mode 0644) if needed; its directory must exist.
  // Throws Error "cannot open TensorBoard event file '<path>': <reason>".
  explicit RecordWriter(std::string path);
  ~RecordWriter();
  RecordWriter(RecordWriter&& other) noexcept;
  RecordWriter& operator=(RecordWriter&& other) noexcept;
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Writes one record holding `data`. Throws Error "cannot write TensorBoard event file
  // '<path>': <reason>" (a full disk, an I/O error); the file may then end in a partial record,
  // which readers treat as the end of the file.
  void write(std::string_view data);

  const std::string& path() const { return path_; }

 private:
  void close();

  std::string path_;
  int fd_ = -1;
};

}  // namespace switchyard::tensorboard
