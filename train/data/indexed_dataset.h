// File: train/data/indexed_dataset.h
//
// Reading an indexed token dataset (`<prefix>.idx` + `<prefix>.bin`, layout in
// indexed_format.h): both files are mapped read-only, the index is validated in full before
// anything in it is used (validate_index), and documents are read in place. Memory does not
// depend on the corpus size: nothing is copied at open, and token pages are read on demand.
//
// Token ids are checked against the vocabulary where they are copied out (read_tokens), so a
// .bin whose ids were altered is refused with one line naming the file and the position, without
// a pass over the whole file at open (validate_all_tokens makes that pass when wanted).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/data/indexed_format.h"
#include "train/data/mapped_file.h"

namespace switchyard::train::data {

// The .idx and .bin bounds (mapped, never read whole): 1 TiB and 16 TiB.
inline constexpr uint64_t kMaxIndexBytes = uint64_t{1} << 40;
inline constexpr uint64_t kMaxTokenBinBytes = uint64_t{1} << 44;

// `<prefix>.idx` and `<prefix>.bin`.
std::string index_path(const std::string& prefix);
std::string bin_path(const std::string& prefix);

// A read-only view of one document's ids, in the file's dtype.
struct TokenSpan {
  const unsigned char* data = nullptr;  // size() ids of dtype_bytes(dtype) bytes, little-endian
  uint64_t count = 0;
  TokenDtype dtype = TokenDtype::kUint16;

  uint64_t size() const { return count; }
  uint32_t operator[](uint64_t i) const;  // unchecked: i < size()
};

class IndexedDataset {
 public:
  // Maps and validates `<prefix>.idx` / `<prefix>.bin`. Bad files are a one-line ConfigError
  // naming the file and the reason; with `field` set ("data.path") the message names it too.
  static IndexedDataset open(const std::string& prefix,
                             const IndexExpectations& expect = {},
                             const std::string& field = "");
  // The same validation over bytes in memory (tests, fuzzing); `name` stands for the prefix.
  static IndexedDataset from_bytes(std::string idx,
                                   std::string bin,
                                   const std::string& name,
                                   const IndexExpectations& expect = {});

  IndexedDataset(IndexedDataset&&) = default;
  IndexedDataset& operator=(IndexedDataset&&) = default;

  const IndexHeader& header() const { return header_; }
  uint64_t num_documents() const { return header_.num_documents; }
  uint64_t num_tokens() const { return header_.num_tokens; }
  uint64_t vocab_size() const { return header_.vocab_size; }
  int64_t eod_id() const { return header_.eod_id; }
  const std::string& bin_name() const { return bin_name_; }

  // Document i (< num_documents()): tokens [document_offset(i), document_offset(i + 1)).
  uint64_t document_offset(uint64_t i) const;
  uint64_t document_length(uint64_t i) const;
  TokenSpan document(uint64_t i) const;

  // Copies ids [begin, begin + count) of the whole token sequence into out[0, count), each
  // checked against the vocabulary (ConfigError naming the .bin and the position otherwise).
  void read_tokens(uint64_t begin, uint64_t count, int64_t* out) const;

  // Checks every id of the .bin against the vocabulary (reads the whole file, in order).
  void validate_all_tokens() const;

 private:
  IndexedDataset() = default;
  void validate(const std::string& idx_name, const IndexExpectations& expect);

  MappedFile idx_file_, bin_file_;                      // when opened from files
  std::unique_ptr<std::string> idx_bytes_, bin_bytes_;  // when built from bytes (stable address)
  const unsigned char* idx_ = nullptr;
  uint64_t idx_size_ = 0;
  const unsigned char* bin_ = nullptr;
  uint64_t bin_size_ = 0;
  std::string bin_name_;
  IndexHeader header_;
};

}  // namespace switchyard::train::data
