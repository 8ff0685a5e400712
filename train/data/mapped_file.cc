#include "train/data/mapped_file.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/errors.h"

namespace switchyard::train::data {

MappedFile::MappedFile(const InputFile& file, Access access) {
  OpenedInputFile opened(file);
  if (opened.size() == 0) return;
  if (opened.size() > SIZE_MAX) throw ConfigError(file.path, "is too large to map");
  void* p =
      ::mmap(nullptr, static_cast<size_t>(opened.size()), PROT_READ, MAP_PRIVATE, opened.fd(), 0);
  if (p == MAP_FAILED) {
    throw ConfigError(file.path, std::string("cannot be mapped: ") + std::strerror(errno));
  }
  data_ = static_cast<const unsigned char*>(p);
  size_ = opened.size();
  // Advice only: a kernel that refuses it reads ahead as usual.
  if (access == Access::kRandom) ::madvise(p, static_cast<size_t>(size_), MADV_RANDOM);
}

MappedFile::~MappedFile() { unmap(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::unmap() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), static_cast<size_t>(size_));
  data_ = nullptr;
  size_ = 0;
}

}  // namespace switchyard::train::data
