// File: train/data/tokenizer.h
//
// The tokenizer interface of the data pipeline: text <-> token ids, the vocabulary size, the
// end-of-document id when the model has one, and a digest naming the exact model, which token
// datasets record (indexed_format.h) so that data is never read with another tokenizer than the
// one it was prepared with. Implementations: byte_tokenizer.h (no model) and
// sentencepiece_tokenizer.h (a SentencePiece .model).
//
// encode and decode are const and safe to call from several threads at once (data prepare
// encodes documents in parallel).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::train::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Appends the ids of `text` to `out`; every id is in [0, vocab_size()).
  virtual void encode(std::string_view text, std::vector<int64_t>* out) const = 0;
  std::vector<int64_t> encode(std::string_view text) const {
    std::vector<int64_t> ids;
    encode(text, &ids);
    return ids;
  }
  // The text of `ids`. Ids outside [0, vocab_size()) (a model whose vocabulary is padded past
  // the tokenizer's) decode as the implementation says, never as an error.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;

  virtual int64_t vocab_size() const = 0;
  // The model's end-of-document id, or -1 when it has none.
  virtual int64_t eod_id() const = 0;
  // Names the exact model: "byte", or the lower-case hex SHA-256 of a SentencePiece .model file.
  virtual std::string digest() const = 0;
  // For messages: "byte" or "sentencepiece <path>".
  virtual std::string description() const = 0;
};

}  // namespace switchyard::train::data
