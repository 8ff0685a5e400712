#include "train/data/line_reader.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"

namespace switchyard::train::data {
namespace {

constexpr size_t kReadBytes = size_t{1} << 20;

// Where to cut a piece of at most `max` bytes from text[0, n) (n > max): after the last space
// or tab in its second half, else before a UTF-8 continuation byte.
size_t cut_point(const char* text, size_t max) {
  for (size_t i = max; i > max / 2; --i) {
    if (text[i - 1] == ' ' || text[i - 1] == '\t') return i;
  }
  size_t cut = max;
  for (int back = 0; back < 3 && cut > 1 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80;
       ++back) {
    --cut;
  }
  return cut;
}

}  // namespace

LineReader::LineReader(const InputFile& file, size_t max_line_bytes, bool require_utf8)
    : file_(file), max_line_(std::max<size_t>(max_line_bytes, 4)), require_utf8_(require_utf8) {
  buffer_.resize(std::max(kReadBytes, 2 * max_line_));
}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const size_t got = file_.read(buffer_.data() + end_, buffer_.size() - end_);
  if (got == 0) eof_ = true;
  end_ += got;
  return got > 0;
}

bool LineReader::next(std::string_view* line) {
  while (true) {
    const char* start = buffer_.data() + begin_;
    const size_t available = end_ - begin_;
    const size_t window = std::min(available, max_line_);
    const void* newline = std::memchr(start, '\n', window);
    size_t length = 0;
    bool piece = false;
    if (newline != nullptr) {
      length = static_cast<size_t>(static_cast<const char*>(newline) - start) + 1;
    } else if (available > max_line_) {
      length = cut_point(start, max_line_);
      piece = true;
    } else if (eof_ || !fill()) {
      if (available == 0) return false;
      length = available;  // the last line, without '\n' (or a piece that fits exactly)
    } else {
      continue;
    }
    if (!continues_) ++line_number_;
    continuation_ = continues_;
    continues_ = piece;
    piece_ = piece;
    *line = std::string_view(start, length);
    begin_ += length;
    consumed_ += length;
    if (require_utf8_) {
      require_utf8_text(std::string(*line), path() + ": line " + std::to_string(line_number_));
    }
    return true;
  }
}

}  // namespace switchyard::train::data
