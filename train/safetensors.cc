#include "train/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"

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
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw Error("cannot close '" + path + "': " + std::strerror(errno));
  return static_cast<int64_t>(8 + text.size()) + offset;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot open '" + path + "'");
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  unsigned char size_le[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_le), 8)) {
    throw Error(path + ": not a safetensors file (shorter than its 8-byte header size)");
  }
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(size_le[i]) << (8 * i);
  if (n > static_cast<uint64_t>(file_size - 8)) {
    throw Error(path + ": header size " + std::to_string(n) + " exceeds the file");
  }
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(path + ": header is not a JSON object");
  const int64_t data_start = 8 + static_cast<int64_t>(n);
  const int64_t data_size = file_size - data_start;
  SafetensorsFile out;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : entry.items()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    try {
      const at::ScalarType type = dtype_of(entry.at("dtype").get<std::string>(), where);
      const std::vector<int64_t> shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<int64_t>>();
      if (offsets.size() != 2 || offsets[0] < 0 || offsets[1] < offsets[0] ||
          offsets[1] > data_size) {
        throw Error(where + ": data_offsets outside the data section");
      }
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
      if (static_cast<int64_t>(t.numel() * t.element_size()) != offsets[1] - offsets[0]) {
        throw Error(where + ": shape does not match its byte range");
      }
      in.seekg(data_start + offsets[0]);
      if (!in.read(static_cast<char*>(t.data_ptr()), offsets[1] - offsets[0])) {
        throw Error(where + ": cannot read its bytes");
      }
      ranges.emplace_back(offsets[0], offsets[1]);
      out.tensors.emplace(name, std::move(t));
    } catch (const json::exception& e) {
      throw Error(where + ": malformed entry: " + e.what());
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second)
      throw Error(path + ": tensors' byte ranges overlap");
  }
  return out;
}

}  // namespace switchyard::train
