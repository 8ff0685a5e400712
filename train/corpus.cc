#include "train/corpus.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <ATen/ATen.h>

#include "core/errors.h"

namespace switchyard::train {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("data.path", "cannot open '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw ConfigError("data.path", "cannot read '" + path + "'");
  return buffer.str();
}

// [N] int64 token ids.
at::Tensor tokenize(const std::string& bytes, const CorpusOptions& o) {
  if (o.format == CorpusFormat::kText) {
    if (o.vocab_size < 256) {
      throw ConfigError("model.vocab_size",
                        "must be >= 256 for byte-level text, got " + std::to_string(o.vocab_size));
    }
    at::Tensor raw = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
    std::memcpy(raw.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    return raw.to(at::kLong);
  }
  if (bytes.size() % 2 != 0) {
    throw ConfigError("data.path", "'" + o.path + "' has an odd number of bytes (" +
                                       std::to_string(bytes.size()) +
                                       "), so it is not uint16 token ids");
  }
  const int64_t n = static_cast<int64_t>(bytes.size() / 2);
  at::Tensor ids = at::empty({n}, at::kLong);
  int64_t* out = ids.data_ptr<int64_t>();
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<int64_t>(in[2 * i]) | (static_cast<int64_t>(in[2 * i + 1]) << 8);
    if (out[i] >= o.vocab_size) {
      throw ConfigError("data.path", "token id " + std::to_string(out[i]) + " at position " +
                                         std::to_string(i) + " of '" + o.path +
                                         "' is not below model.vocab_size (" +
                                         std::to_string(o.vocab_size) + ")");
    }
  }
  return ids;
}

}  // namespace

Corpus load_corpus(const CorpusOptions& o) {
  const std::string bytes = read_bytes(o.path);
  if (bytes.empty()) throw ConfigError("data.path", "file '" + o.path + "' is empty");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) {
    throw ConfigError("data.val_fraction", "must be in (0, 1)");
  }
  const at::Tensor ids = tokenize(bytes, o);  // [N]
  const int64_t n = ids.numel();
  const int64_t n_val = static_cast<int64_t>(std::floor(static_cast<double>(n) * o.val_fraction));
  const int64_t n_train = n - n_val;
  const int64_t need = o.seq_length + 1;
  if (n_train < need || n_val < need) {
    throw ConfigError("data.path", "'" + o.path + "' has " + std::to_string(n) +
                                       " tokens: the train/val splits (" + std::to_string(n_train) +
                                       "/" + std::to_string(n_val) + ") each need at least " +
                                       "model.seq_length + 1 = " + std::to_string(need));
  }
  return Corpus{ids.slice(0, 0, n_train).clone(), ids.slice(0, n_train, n).clone()};
}

}  // namespace switchyard::train
