#include "train/data/tokenizer_loader.h"

#include "train/data/byte_tokenizer.h"
#include "train/data/sentencepiece_tokenizer.h"

namespace switchyard::train::data {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec, const std::string& field) {
  if (spec == "byte") return std::make_unique<ByteTokenizer>();
  return SentencePieceTokenizer::load(spec, field);
}

}  // namespace switchyard::train::data
