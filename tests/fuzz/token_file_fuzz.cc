// Fuzz target: the token-file reader and the byte-level text tokenizer (train/token_file.h).
// Input: byte 0 picks the format and the vocabulary size, the rest is the file. Properties: bad
// input is a one-line ConfigError; decoded ids are in [0, vocab); text round-trips through
// encode_text / decode_text byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/token_file.h"

namespace sy = switchyard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool u16 = (data[0] & 1) != 0;
  static const int64_t kVocab[] = {0, 1, 2, 255, 256, 257, 4096, 65535, 65536, 50257};
  const int64_t vocab = kVocab[(data[0] >> 1) % (sizeof kVocab / sizeof kVocab[0])];
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto format = u16 ? sy::train::CorpusFormat::kTokensU16 : sy::train::CorpusFormat::kText;
  try {
    const int64_t n = sy::train::token_count(bytes.size(), format, "in.tokens");
    sy::fuzz::require(n >= 0 && static_cast<uint64_t>(n) <= bytes.size(), "token count");
    std::vector<int64_t> ids(static_cast<size_t>(n) + 1, -7);  // one guard element
    sy::train::decode_tokens(bytes, format, vocab, "in.tokens", ids.data());
    sy::fuzz::require(ids[static_cast<size_t>(n)] == -7, "decode wrote past the token count");
    for (int64_t i = 0; i < n; ++i) {
      sy::fuzz::require(ids[static_cast<size_t>(i)] >= 0 && ids[static_cast<size_t>(i)] < vocab,
                        "id outside the vocabulary accepted");
    }
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
  }
  const std::vector<int64_t> text_ids = sy::train::encode_text(bytes);
  for (const int64_t id : text_ids) sy::fuzz::require(id >= 0 && id < 256, "byte id range");
  sy::fuzz::require(sy::train::decode_text(text_ids) == bytes, "text does not round-trip");
  return 0;
}
