#include "train/data/byte_tokenizer.h"

#include "train/token_file.h"

namespace switchyard::train::data {

void ByteTokenizer::encode(std::string_view text, std::vector<int64_t>* out) const {
  out->reserve(out->size() + text.size());
  for (const char c : text) out->push_back(static_cast<unsigned char>(c));  // as encode_text
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  return decode_text(ids);
}

}  // namespace switchyard::train::data
