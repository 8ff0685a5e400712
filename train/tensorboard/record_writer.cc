#include "train/tensorboard/record_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/errors.h"
#include "train/tensorboard/crc32c.h"

namespace switchyard::tensorboard {
namespace {

void append_le(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

}  // namespace

std::string frame_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_le(&out, data.size(), 8);
  append_le(&out, masked_crc32c(std::string_view(out.data(), 8)), 4);
  out.append(data.data(), data.size());
  append_le(&out, masked_crc32c(data), 4);
  return out;
}

RecordWriter::RecordWriter(std::string path) : path_(std::move(path)) {
  do {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) {
    throw Error("cannot open TensorBoard event file '" + path_ + "': " + std::strerror(errno));
  }
}

RecordWriter::~RecordWriter() { close(); }

RecordWriter::RecordWriter(RecordWriter&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

RecordWriter& RecordWriter::operator=(RecordWriter&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void RecordWriter::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RecordWriter::write(std::string_view data) {
  if (fd_ < 0) throw Error("cannot write TensorBoard event file '" + path_ + "': not open");
  const std::string record = frame_record(data);
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? std::strerror(errno) : "nothing written";
      throw Error("cannot write TensorBoard event file '" + path_ + "': " + reason);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace switchyard::tensorboard
