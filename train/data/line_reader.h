// File: train/data/line_reader.h
//
// Reading a user's text file line by line in bounded memory, for files of any size (data
// prepare, tokenizer training). The file is opened through core/input_file.h (regular file,
// within the bound; one-line ConfigError naming it). A line longer than `max_line_bytes` comes
// in pieces of at most that many bytes, each cut after the piece's last space or tab when it
// has one in its second half, else at a UTF-8 character boundary, so a file without newlines
// never has to fit in memory. With `require_utf8`, a line that is not UTF-8 text or holds a NUL
// byte is refused with "<path>: line <n>: ..." (a binary file given by mistake).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/input_file.h"

namespace switchyard::train::data {

// Bound on one text input file that is streamed, never read whole: 1 TiB.
inline constexpr uint64_t kMaxStreamedTextBytes = uint64_t{1} << 40;

class LineReader {
 public:
  LineReader(const InputFile& file, size_t max_line_bytes, bool require_utf8);

  // The next line, with its '\n' when it has one (the last line of a file may not), or the next
  // piece of a long line (is_piece() then tells that the line goes on). Valid until the next
  // call. False at the end of the file.
  bool next(std::string_view* line);

  bool is_piece() const { return piece_; }
  // The line returned continues the piece returned before it.
  bool is_continuation() const { return continuation_; }
  uint64_t line_number() const { return line_number_; }  // of the line last returned, from 1
  uint64_t bytes_read() const { return consumed_; }      // of the lines returned so far
  uint64_t file_size() const { return file_.size(); }
  const std::string& path() const { return file_.file().path; }

 private:
  bool fill();  // reads more after the unconsumed bytes; false at the end of the file

  OpenedInputFile file_;
  size_t max_line_;
  bool require_utf8_;
  std::string buffer_;
  size_t begin_ = 0, end_ = 0;  // unconsumed bytes of buffer_
  bool eof_ = false;
  bool piece_ = false;
  bool continuation_ = false;
  bool continues_ = false;  // the last piece returned did not end its line
  uint64_t line_number_ = 0;
  uint64_t consumed_ = 0;
};

}  // namespace switchyard::train::data
