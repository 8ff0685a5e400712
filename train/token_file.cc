#include "train/token_file.h"

#include "core/errors.h"

namespace switchyard::train {

int64_t token_count(uint64_t bytes, CorpusFormat format, const std::string& path) {
  if (format == CorpusFormat::kText) return static_cast<int64_t>(bytes);
  if (bytes % 2 != 0) {
    throw ConfigError("data.path", "'" + path + "' has an odd number of bytes (" +
                                       std::to_string(bytes) + "), so it is not uint16 token ids");
  }
  return static_cast<int64_t>(bytes / 2);
}

void decode_tokens(const std::string& bytes,
                   CorpusFormat format,
                   int64_t vocab_size,
                   const std::string& path,
                   int64_t* out) {
  const int64_t n = token_count(bytes.size(), format, path);
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  if (format == CorpusFormat::kText) {
    if (vocab_size < 256) {
      throw ConfigError("model.vocab_size",
                        "must be >= 256 for byte-level text, got " + std::to_string(vocab_size));
    }
    for (int64_t i = 0; i < n; ++i) out[i] = in[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<int64_t>(in[2 * i]) | (static_cast<int64_t>(in[2 * i + 1]) << 8);
    if (out[i] >= vocab_size) {
      throw ConfigError("data.path", "token id " + std::to_string(out[i]) + " at position " +
                                         std::to_string(i) + " of '" + path +
                                         "' is not below model.vocab_size (" +
                                         std::to_string(vocab_size) + ")");
    }
  }
}

std::vector<int64_t> encode_text(const std::string& text) {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string decode_text(const std::vector<int64_t>& ids) {
  std::string text;
  text.reserve(ids.size());
  for (const int64_t id : ids) text += id >= 0 && id < 256 ? static_cast<char>(id) : '?';
  return text;
}

}  // namespace switchyard::train
