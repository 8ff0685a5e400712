// File: train/data/byte_tokenizer.h
//
// The byte-level tokenizer (what TEXT corpora use, train/token_file.h): every byte is one id in
// [0, 256), unsigned, so any text round-trips byte for byte. It has no end-of-document id of its
// own: `data prepare` appends none unless one is chosen (prepare.h).
#pragma once

#include "train/data/tokenizer.h"

namespace switchyard::train::data {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr const char* kDigest = "byte";

  using Tokenizer::encode;
  void encode(std::string_view text, std::vector<int64_t>* out) const override;
  // Ids outside [0, 256) decode as '?' (as decode_text does).
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return 256; }
  int64_t eod_id() const override { return -1; }
  std::string digest() const override { return kDigest; }
  std::string description() const override { return "byte"; }
};

}  // namespace switchyard::train::data
