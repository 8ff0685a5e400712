// Fuzz target: the SentencePiece tokenizer (train/data/sentencepiece_tokenizer.h).
// Input: when byte 0 is even, the whole input is a model file: loading it is a one-line
// ConfigError or a model whose ids for a fixed text are in [0, vocab) and decode. When byte 0 is
// odd, bit 1 picks one of two small models kept in the corpus directory (a BPE model with byte
// fallback and a unigram model, tests/fuzz/corpus/sentencepiece_tokenizer/model_*.model) and the
// rest of the input is text (any bytes) to encode: ids in [0, vocab), decode returns; the input
// read as little-endian int16 ids (negative and past the vocabulary included) decodes too.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/data/sentencepiece_tokenizer.h"

namespace sy = switchyard;
namespace data = switchyard::train::data;

namespace {

void check_ids(const data::Tokenizer& t, const std::vector<int64_t>& ids) {
  for (const int64_t id : ids) {
    sy::fuzz::require(id >= 0 && id < t.vocab_size(), "encoded id outside the vocabulary");
  }
}

const data::SentencePieceTokenizer& model(int which) {
  // Loaded once per process (read-only afterwards).
  static const std::unique_ptr<data::SentencePieceTokenizer> models[2] = {
      data::SentencePieceTokenizer::load(SY_FUZZ_SPM_MODEL_DIR "/model_bpe_bytes.model"),
      data::SentencePieceTokenizer::load(SY_FUZZ_SPM_MODEL_DIR "/model_unigram.model")};
  return *models[which];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(bytes), size);
  if ((bytes[0] & 1) == 0) {
    std::unique_ptr<data::SentencePieceTokenizer> t;
    try {
      t = data::SentencePieceTokenizer::from_bytes(input, "in.model");
    } catch (const sy::ConfigError& e) {
      sy::fuzz::check_refusal(e);
      return 0;
    }
    sy::fuzz::require(t->vocab_size() >= 1, "model without pieces accepted");
    sy::fuzz::require(t->eod_id() >= -1 && t->eod_id() < t->vocab_size(), "eod id");
    sy::fuzz::require(t->digest().size() == 64, "digest");
    const std::vector<int64_t> ids = t->encode("Hello, world. \xc3\xa9t\xc3\xa9 \xe2\x98\x83");
    check_ids(*t, ids);
    t->decode(ids);
    t->decode({-1, 0, t->vocab_size(), t->vocab_size() - 1});
    return 0;
  }
  const data::SentencePieceTokenizer& t = model((bytes[0] >> 1) & 1);
  const std::string text = input.substr(1);
  const std::vector<int64_t> ids = t.encode(text);
  check_ids(t, ids);
  t.decode(ids);
  std::vector<int64_t> raw;
  for (size_t i = 1; i + 1 < size; i += 2) {
    raw.push_back(static_cast<int16_t>(bytes[i] | bytes[i + 1] << 8));
  }
  t.decode(raw);
  return 0;
}
