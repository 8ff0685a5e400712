#include "train/data/indexed_dataset.h"

#include <algorithm>
#include <utility>

#include "core/errors.h"

namespace switchyard::train::data {

std::string index_path(const std::string& prefix) { return prefix + ".idx"; }
std::string bin_path(const std::string& prefix) { return prefix + ".bin"; }

uint32_t TokenSpan::operator[](uint64_t i) const {
  return dtype == TokenDtype::kUint16 ? load_u16(data + 2 * i) : load_u32(data + 4 * i);
}

IndexedDataset IndexedDataset::open(const std::string& prefix,
                                    const IndexExpectations& expect,
                                    const std::string& field) {
  IndexedDataset d;
  try {
    d.idx_file_ = MappedFile({index_path(prefix), "token dataset index", kMaxIndexBytes, ""});
    // Samples are read at random places: no read-ahead (mapped_file.h).
    d.bin_file_ = MappedFile({bin_path(prefix), "token dataset file", kMaxTokenBinBytes, ""},
                             Access::kRandom);
    d.idx_ = d.idx_file_.data();
    d.idx_size_ = d.idx_file_.size();
    d.bin_ = d.bin_file_.data();
    d.bin_size_ = d.bin_file_.size();
    d.bin_name_ = bin_path(prefix);
    d.validate(index_path(prefix), expect);
  } catch (const ConfigError& e) {
    if (field.empty()) throw;
    throw ConfigError(field, "'" + e.path() + "' " + e.reason());
  }
  return d;
}

IndexedDataset IndexedDataset::from_bytes(std::string idx,
                                          std::string bin,
                                          const std::string& name,
                                          const IndexExpectations& expect) {
  IndexedDataset d;
  d.idx_bytes_ = std::make_unique<std::string>(std::move(idx));
  d.bin_bytes_ = std::make_unique<std::string>(std::move(bin));
  d.idx_ = reinterpret_cast<const unsigned char*>(d.idx_bytes_->data());
  d.idx_size_ = d.idx_bytes_->size();
  d.bin_ = reinterpret_cast<const unsigned char*>(d.bin_bytes_->data());
  d.bin_size_ = d.bin_bytes_->size();
  d.bin_name_ = bin_path(name);
  d.validate(index_path(name), expect);
  return d;
}

void IndexedDataset::validate(const std::string& idx_name, const IndexExpectations& expect) {
  header_ = validate_index(idx_, idx_size_, bin_size_, idx_name, bin_name_, expect);
}

uint64_t IndexedDataset::document_offset(uint64_t i) const {
  if (i > header_.num_documents) {
    throw InternalError("document offset " + std::to_string(i) + " of " +
                        std::to_string(header_.num_documents) + " documents");
  }
  return index_offset(idx_, i);
}

uint64_t IndexedDataset::document_length(uint64_t i) const {
  return document_offset(i + 1) - document_offset(i);
}

TokenSpan IndexedDataset::document(uint64_t i) const {
  const uint64_t begin = document_offset(i);
  TokenSpan span;
  span.dtype = header_.dtype;
  span.count = document_offset(i + 1) - begin;
  span.data = bin_ + begin * dtype_bytes(header_.dtype);
  return span;
}

void IndexedDataset::read_tokens(uint64_t begin, uint64_t count, int64_t* out) const {
  if (begin > header_.num_tokens || count > header_.num_tokens - begin) {
    throw InternalError("read_tokens [" + std::to_string(begin) + ", +" + std::to_string(count) +
                        ") past " + std::to_string(header_.num_tokens) + " tokens");
  }
  const uint64_t vocab = header_.vocab_size;
  const TokenSpan all{bin_, header_.num_tokens, header_.dtype};
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t id = all[begin + i];
    if (id >= vocab) {
      throw ConfigError(bin_name_, "token id " + std::to_string(id) + " at position " +
                                       std::to_string(begin + i) +
                                       " is not below the vocabulary size " +
                                       std::to_string(vocab));
    }
    out[i] = id;
  }
}

void IndexedDataset::validate_all_tokens() const {
  constexpr uint64_t kBlock = 1 << 16;
  std::unique_ptr<int64_t[]> buffer(new int64_t[kBlock]);
  for (uint64_t at = 0; at < header_.num_tokens; at += kBlock) {
    read_tokens(at, std::min(kBlock, header_.num_tokens - at), buffer.get());
  }
}

}  // namespace switchyard::train::data
