#include "train/data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <climits>

#include "core/errors.h"
#include "core/input_file.h"
#include "train/sha256.h"

namespace switchyard::train::data {

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::string& path,
                                                                     const std::string& field) {
  const InputFile file{path, "SentencePiece model", kMaxTokenizerModelBytes, field};
  const std::string bytes = read_input_file(file);
  try {
    return from_bytes(bytes, path);
  } catch (const ConfigError& e) {
    if (field.empty()) throw;
    throw ConfigError(field, "'" + path + "' " + e.reason());
  }
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_bytes(
    const std::string& bytes, const std::string& name) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  t->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (bytes.empty()) throw ConfigError(name, "is empty, not a SentencePiece model");
  const sentencepiece::util::Status status = t->sp_->LoadFromSerializedProto(bytes);
  if (!status.ok()) {
    throw ConfigError(name, "is not a usable SentencePiece model (" + status.ToString() + ")");
  }
  const int pieces = t->sp_->GetPieceSize();
  if (pieces <= 0) throw ConfigError(name, "is a SentencePiece model without pieces");
  t->name_ = name;
  t->digest_ = sha256_bytes(bytes);
  t->vocab_size_ = pieces;
  t->eos_id_ = t->sp_->eos_id() >= 0 && t->sp_->eos_id() < pieces ? t->sp_->eos_id() : -1;
  return t;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

void SentencePieceTokenizer::encode(std::string_view text, std::vector<int64_t>* out) const {
  std::vector<int> ids;
  const sentencepiece::util::Status status = sp_->Encode(text, &ids);
  if (!status.ok()) throw Error(description() + ": cannot encode text: " + status.ToString());
  for (const int id : ids) {
    if (id < 0 || id >= vocab_size_) {
      throw InternalError(description() + ": encode returned id " + std::to_string(id));
    }
  }
  // Appended with the vector's geometric growth (an exact reserve per call would copy `out`
  // whole on every line of a chunk: quadratic).
  out->insert(out->end(), ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> checked;
  checked.reserve(ids.size());
  const int unk = sp_->unk_id();
  for (const int64_t id : ids) {
    checked.push_back(id >= 0 && id < vocab_size_ ? static_cast<int>(id) : unk);
  }
  std::string text;
  const sentencepiece::util::Status status = sp_->Decode(checked, &text);
  if (!status.ok()) throw Error(description() + ": cannot decode ids: " + status.ToString());
  return text;
}

int64_t SentencePieceTokenizer::unk_id() const { return sp_->unk_id(); }
int64_t SentencePieceTokenizer::bos_id() const { return sp_->bos_id(); }
int64_t SentencePieceTokenizer::pad_id() const { return sp_->pad_id(); }

std::string SentencePieceTokenizer::piece(int64_t id) const {
  if (id < 0 || id >= vocab_size_) throw InternalError("piece id out of range");
  return sp_->IdToPiece(static_cast<int>(id));
}

float SentencePieceTokenizer::score(int64_t id) const {
  if (id < 0 || id >= vocab_size_) throw InternalError("piece id out of range");
  return sp_->GetScore(static_cast<int>(id));
}

}  // namespace switchyard::train::data
