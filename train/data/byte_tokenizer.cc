#include "train/data/byte_tokenizer.h"

#include "train/token_file.h"

namespace switchyard::train::data {

void ByteTokenizer::encode(std::string_view text, std::vector<int64_t>* out) const {
  // Geometric growth, no exact reserve: a chunk appends line after line to one vector.
  const size_t at = out->size();
  out->resize(at + text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    (*out)[at + i] = static_cast<unsigned char>(text[i]);  // as encode_text
  }
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  return decode_text(ids);
}

}  // namespace switchyard::train::data
