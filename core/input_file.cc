#include "core/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "core/errors.h"

namespace switchyard {
namespace {

[[noreturn]] void refuse(const InputFile& f, const std::string& reason) {
  if (f.field.empty()) throw ConfigError(f.path, reason);
  throw ConfigError(f.field, "'" + f.path + "' " + reason);
}

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Why open() failed, in the user's terms (a dangling link says where it points).
std::string open_failure(const std::string& path, int err) {
  struct stat link {};
  if (err == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    char target[PATH_MAX] = {0};
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    return "is a dangling symbolic link" +
           (n > 0 ? " (to '" + std::string(target, static_cast<size_t>(n)) + "')" : std::string());
  }
  if (err == ENOENT) return "does not exist";
  if (err == ENOTDIR) return "does not exist (a part of the path is not a directory)";
  if (err == ELOOP) return "is a symbolic link loop";
  if (err == EACCES) return "is not readable (permission denied)";
  return std::string("cannot be opened: ") + std::strerror(err);
}

class Fd {
 public:
  Fd() = default;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int fd) { fd_ = fd; }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens without blocking (a FIFO with no writer would block a plain open) and checks the
// descriptor. Returns the size.
uint64_t open_checked(const InputFile& f, Fd* fd) {
  if (f.path.empty()) refuse(f, "is an empty path");
  const int raw = ::open(f.path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (raw < 0) refuse(f, open_failure(f.path, errno));
  fd->reset(raw);
  struct stat st {};
  if (::fstat(raw, &st) != 0) refuse(f, std::string("cannot be examined: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse(f, "is " + kind_of(st.st_mode) + ", not a " + f.what);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > f.max_bytes) {
    refuse(f, "is " + std::to_string(size) + " bytes, more than the bound of " +
                  std::to_string(f.max_bytes) + " bytes for a " + f.what);
  }
  return size;
}

}  // namespace

uint64_t check_input_file(const InputFile& file) {
  Fd fd;
  return open_checked(file, &fd);
}

std::string read_input_file(const InputFile& file) {
  Fd fd;
  const uint64_t size = open_checked(file, &fd);
  std::string bytes;
  bytes.resize(static_cast<size_t>(size));
  size_t done = 0;
  while (true) {
    if (done == bytes.size()) {
      // The file may have grown since fstat: read on, within the bound.
      if (bytes.size() > file.max_bytes) {
        refuse(file, "grew past the bound of " + std::to_string(file.max_bytes) + " bytes for a " +
                         file.what + " while being read");
      }
      bytes.resize(bytes.size() + 4096);
    }
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      refuse(file, std::string("cannot be read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  if (bytes.size() > file.max_bytes) {
    refuse(file, "grew past the bound of " + std::to_string(file.max_bytes) + " bytes for a " +
                     file.what + " while being read");
  }
  return bytes;
}

OpenedInputFile::OpenedInputFile(const InputFile& file) : file_(file) {
  Fd fd;
  size_ = open_checked(file_, &fd);
  fd_ = fd.release();
}

OpenedInputFile::~OpenedInputFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t OpenedInputFile::read(char* out, size_t n) {
  while (true) {
    const ssize_t got = ::read(fd_, out, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) refuse(file_, std::string("cannot be read: ") + std::strerror(errno));
  }
}

void require_utf8_text(const std::string& text, const std::string& source) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c == 0) {
      throw ConfigError(
          source, "holds a NUL byte at offset " + std::to_string(i) + " (a binary file, not text)");
    }
    size_t len = 0;
    unsigned int min = 0, cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      throw ConfigError(source, "is not UTF-8 text (invalid byte " + std::string(hex) +
                                    " at offset " + std::to_string(i) + ")");
    }
    i += len;
  }
}

void require_directory(const std::string& path, const std::string& what) {
  if (path.empty()) throw ConfigError(what, "is an empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ConfigError(path, open_failure(path, errno));
  if (!S_ISDIR(st.st_mode)) {
    throw ConfigError(
        path, "is " + (S_ISREG(st.st_mode) ? std::string("a regular file") : kind_of(st.st_mode)) +
                  ", not a " + what);
  }
}

}  // namespace switchyard
