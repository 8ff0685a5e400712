// File: train/data/indexed_format.h
//
// The on-disk format of an indexed token dataset (docs/data.md): `<prefix>.bin` holds the token
// ids of every document back to back, `<prefix>.idx` a fixed header and the document offsets.
// This file knows the byte layout only; it neither opens nor maps files, so the validation runs
// the same on a mapped file, on bytes in memory (tests) and on fuzz input.
//
// <prefix>.idx, all integers little-endian:
//   offset  size  field
//        0     8  magic "SYTOKIDX"
//        8     4  uint32 format version (1)
//       12     4  uint32 dtype code of the .bin ids: 1 = uint16, 2 = uint32
//       16     8  uint64 vocabulary size V (every id < V)
//       24     8  int64  end-of-document id appended to every document, or -1 for none
//       32     8  uint64 number of documents N (>= 1)
//       40     8  uint64 number of tokens T (the .bin holds T ids)
//       48    64  tokenizer digest: ASCII, NUL-padded ("byte", or the 64 hex digits of the
//                 SentencePiece model file's SHA-256)
//      112    16  reserved, zero
//      128  8(N+1) uint64 document offsets in tokens: offset[0] = 0, strictly increasing (no
//                 empty document), offset[N] = T; document i is ids [offset[i], offset[i+1]).
// <prefix>.bin: T ids of the dtype, little-endian, no header; its size is T x the dtype's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace switchyard::train::data {

inline constexpr char kIndexMagic[8] = {'S', 'Y', 'T', 'O', 'K', 'I', 'D', 'X'};
inline constexpr uint32_t kIndexVersion = 1;
inline constexpr size_t kIndexHeaderBytes = 128;
inline constexpr size_t kDigestFieldBytes = 64;

enum class TokenDtype : uint32_t {
  kUint16 = 1,
  kUint32 = 2,
};

// Bytes per id of `dtype`.
size_t dtype_bytes(TokenDtype dtype);
// "uint16" / "uint32".
const char* dtype_name(TokenDtype dtype);
// The narrowest dtype holding every id below `vocab_size`: uint16 up to 65536, else uint32.
TokenDtype dtype_for_vocab(uint64_t vocab_size);

struct IndexHeader {
  TokenDtype dtype = TokenDtype::kUint16;
  uint64_t vocab_size = 0;
  int64_t eod_id = -1;  // -1: documents have no end-of-document token
  uint64_t num_documents = 0;
  uint64_t num_tokens = 0;
  std::string tokenizer_digest;  // at most kDigestFieldBytes ASCII characters
};

// The kIndexHeaderBytes bytes of `header`.
std::string encode_index_header(const IndexHeader& header);

// What a caller expects of a dataset; empty / 0 fields are not checked.
struct IndexExpectations {
  uint64_t vocab_size = 0;            // 0: any
  bool vocab_may_be_smaller = false;  // the model's vocabulary may be padded past the data's
  std::string tokenizer_digest;       // empty: any
  std::string tokenizer_name;         // for messages, e.g. "sentencepiece m.model"; may be empty
};

// Validates an index of `idx_size` bytes at `idx` (the whole .idx file) against the size of the
// .bin file, before anything in it is trusted: the header's fields (magic, version, dtype code,
// vocabulary, end-of-document id, digest, reserved bytes), the file sizes it implies, the
// expectations, then every offset (starts at 0, strictly increasing, ends at the token count).
// Any failure is a ConfigError "<idx_name>: <reason>" (or "<bin_name>: ..." when the .bin size
// is wrong) in one line. Returns the header.
IndexHeader validate_index(const unsigned char* idx,
                           uint64_t idx_size,
                           uint64_t bin_size,
                           const std::string& idx_name,
                           const std::string& bin_name,
                           const IndexExpectations& expect);

// Offset i (0 <= i <= N) of a validated index.
uint64_t index_offset(const unsigned char* idx, uint64_t i);

// Little-endian loads and stores, independent of the host's byte order.
uint64_t load_u64(const unsigned char* p);
uint32_t load_u32(const unsigned char* p);
uint16_t load_u16(const unsigned char* p);
void store_u64(unsigned char* p, uint64_t v);
void store_u32(unsigned char* p, uint32_t v);
void store_u16(unsigned char* p, uint16_t v);

}  // namespace switchyard::train::data
