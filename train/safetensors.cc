#include "train/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/errors.h"
#include "core/input_file.h"
#include "train/safetensors_header.h"

namespace switchyard::train {
namespace {

using nlohmann::json;

struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kDouble, "F64"}, {at::kFloat, "F32"}, {at::kBFloat16, "BF16"}, {at::kHalf, "F16"},
    {at::kLong, "I64"},   {at::kInt, "I32"},   {at::kShort, "I16"},     {at::kChar, "I8"},
    {at::kByte, "U8"},    {at::kBool, "BOOL"},
};

const char* dtype_name(at::ScalarType t, const std::string& tensor) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return d.name;
  }
  throw Error("safetensors: tensor '" + tensor + "' has unsupported dtype " +
              std::string(c10::toString(t)));
}

at::ScalarType dtype_of(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  throw Error(where + ": unsupported dtype '" + name + "'");
}

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot write '" + path + "': " + std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

int64_t write_safetensors(const std::string& path,
                          const NamedTensors& tensors,
                          const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__" || header.contains(name)) {
      throw Error("safetensors: duplicate or reserved tensor name '" + name + "'");
    }
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const int64_t bytes = static_cast<int64_t>(t.numel() * t.element_size());
    header[name] = {{"dtype", dtype_name(t.scalar_type(), name)},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  uint64_t n = text.size();
  unsigned char size_le[8];
  for (int i = 0; i < 8; ++i) size_le[i] = static_cast<unsigned char>(n >> (8 * i));

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot create '" + path + "': " + std::strerror(errno));
  try {
    write_all(fd, size_le, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const at::Tensor& t : data) {
      write_all(fd, t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size()), path);
    }
    if (::fsync(fd) != 0) throw Error("cannot fsync '" + path + "': " + std::strerror(errno));
  } catch (...) {
    // A full disk (ENOSPC) or an I/O error: remove the partial file so the space it took is
    // free again for the next attempt; the caller sees one line naming the file and the reason.
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw Error("cannot close '" + path + "': " + std::strerror(err));
  }
  return static_cast<int64_t>(8 + text.size()) + offset;
}

SafetensorsFile read_safetensors(const std::string& path) {
  // A regular file of any size (checkpoints are large; nothing is read whole without a bound).
  const uint64_t file_size =
      check_input_file({path, "safetensors file", std::numeric_limits<uint64_t>::max(), ""});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "cannot be opened");
  unsigned char size_le[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_le), 8)) {
    throw ConfigError(path, "not a safetensors file (shorter than its 8-byte header size)");
  }
  // Header size, then every entry, validated against the file's size before any allocation
  // sized by the header (safetensors_header.h).
  const uint64_t n = safetensors_header_size(size_le, file_size, path);
  std::string text(n, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n))) {
    throw ConfigError(path, "cannot read its header: truncated");
  }
  const SafetensorsHeader header = parse_safetensors_header(text, file_size, path);
  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const SafetensorsEntry& e : header.tensors) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(dtype_of(e.dtype, path)));
    SY_CHECK_EQ(static_cast<int64_t>(t.numel() * t.element_size()), e.end - e.begin);
    in.seekg(header.data_start + e.begin);
    if (!in.read(static_cast<char*>(t.data_ptr()), e.end - e.begin)) {
      throw ConfigError(path, "tensor '" + e.name + "': cannot read its bytes (truncated?)");
    }
    if (!out.tensors.emplace(e.name, std::move(t)).second) {
      throw ConfigError(path, "tensor '" + e.name + "' appears twice");
    }
  }
  return out;
}

}  // namespace switchyard::train
