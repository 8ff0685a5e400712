// File: train/data/sentencepiece_tokenizer.h
//
// A SentencePiece model (BPE or unigram, a `.model` file written by `switchyard tokenizer
// train` or by SentencePiece's own tools) through the SentencePiece library (Debian's
// libsentencepiece). The file is read through core/input_file.h (regular file, size bound,
// one-line ConfigError naming it); its digest is the SHA-256 of its bytes, which token datasets
// and runs record.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace switchyard::train::data {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Reads and loads the model at `path`. A path that is not a readable regular file, or bytes
  // that are not a SentencePiece model, are a one-line ConfigError naming `field` (when set)
  // and the path.
  static std::unique_ptr<SentencePieceTokenizer> load(const std::string& path,
                                                      const std::string& field = "");
  // Loads the model from its serialized bytes; `name` stands for the file in messages.
  static std::unique_ptr<SentencePieceTokenizer> from_bytes(const std::string& bytes,
                                                            const std::string& name);
  ~SentencePieceTokenizer() override;

  using Tokenizer::encode;
  void encode(std::string_view text, std::vector<int64_t>* out) const override;
  // Ids outside [0, vocab_size()) decode as the unknown piece (" ⁇ "); control ids (<s>, </s>,
  // padding) decode to nothing, as in SentencePiece.
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  // The model's </s> id, or -1 when the model was trained without one.
  int64_t eod_id() const override { return eos_id_; }
  std::string digest() const override { return digest_; }
  std::string description() const override { return "sentencepiece " + name_; }

  int64_t unk_id() const;
  int64_t bos_id() const;
  int64_t pad_id() const;
  // The piece of `id` (< vocab_size()) and its score, as the model's .vocab file lists them.
  std::string piece(int64_t id) const;
  float score(int64_t id) const;

 private:
  SentencePieceTokenizer() = default;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string name_;
  std::string digest_;
  int64_t vocab_size_ = 0;
  int64_t eos_id_ = -1;
};

}  // namespace switchyard::train::data
