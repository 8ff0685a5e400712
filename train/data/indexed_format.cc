#include "train/data/indexed_format.h"

#include <cstring>

#include "core/errors.h"

namespace switchyard::train::data {
namespace {

// Header field offsets (the table in indexed_format.h).
constexpr size_t kAtVersion = 8;
constexpr size_t kAtDtype = 12;
constexpr size_t kAtVocab = 16;
constexpr size_t kAtEod = 24;
constexpr size_t kAtDocuments = 32;
constexpr size_t kAtTokens = 40;
constexpr size_t kAtDigest = 48;
constexpr size_t kAtReserved = kAtDigest + kDigestFieldBytes;  // 112
static_assert(kAtReserved + 16 == kIndexHeaderBytes, "header layout");

std::string u64s(uint64_t v) { return std::to_string(v); }

// A digest field: printable ASCII, then NUL padding only. Returns "" when it is not.
bool parse_digest(const unsigned char* field, std::string* out) {
  size_t n = 0;
  while (n < kDigestFieldBytes && field[n] != 0) {
    if (field[n] < 0x21 || field[n] > 0x7e) return false;
    ++n;
  }
  for (size_t i = n; i < kDigestFieldBytes; ++i) {
    if (field[i] != 0) return false;
  }
  out->assign(reinterpret_cast<const char*>(field), n);
  return n > 0;
}

}  // namespace

uint64_t load_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t load_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint16_t load_u16(const unsigned char* p) {
  return static_cast<uint16_t>(p[0] | static_cast<unsigned>(p[1]) << 8);
}
void store_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void store_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void store_u16(unsigned char* p, uint16_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
}

size_t dtype_bytes(TokenDtype dtype) { return dtype == TokenDtype::kUint16 ? 2 : 4; }

const char* dtype_name(TokenDtype dtype) {
  return dtype == TokenDtype::kUint16 ? "uint16" : "uint32";
}

TokenDtype dtype_for_vocab(uint64_t vocab_size) {
  return vocab_size <= (uint64_t{1} << 16) ? TokenDtype::kUint16 : TokenDtype::kUint32;
}

std::string encode_index_header(const IndexHeader& h) {
  if (h.tokenizer_digest.empty() || h.tokenizer_digest.size() > kDigestFieldBytes) {
    throw InternalError("index header: tokenizer digest of " +
                        std::to_string(h.tokenizer_digest.size()) + " characters");
  }
  std::string out(kIndexHeaderBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(p, kIndexMagic, sizeof kIndexMagic);
  store_u32(p + kAtVersion, kIndexVersion);
  store_u32(p + kAtDtype, static_cast<uint32_t>(h.dtype));
  store_u64(p + kAtVocab, h.vocab_size);
  store_u64(p + kAtEod, static_cast<uint64_t>(h.eod_id));
  store_u64(p + kAtDocuments, h.num_documents);
  store_u64(p + kAtTokens, h.num_tokens);
  std::memcpy(p + kAtDigest, h.tokenizer_digest.data(), h.tokenizer_digest.size());
  return out;
}

uint64_t index_offset(const unsigned char* idx, uint64_t i) {
  return load_u64(idx + kIndexHeaderBytes + 8 * i);
}

IndexHeader validate_index(const unsigned char* idx,
                           uint64_t idx_size,
                           uint64_t bin_size,
                           const std::string& idx_name,
                           const std::string& bin_name,
                           const IndexExpectations& expect) {
  auto refuse = [&](const std::string& reason) { throw ConfigError(idx_name, reason); };
  if (idx_size == 0) refuse("is empty, not a token dataset index");
  if (idx_size < kIndexHeaderBytes) {
    refuse("is truncated: " + u64s(idx_size) + " bytes, shorter than the " +
           u64s(kIndexHeaderBytes) + "-byte header");
  }
  if (std::memcmp(idx, kIndexMagic, sizeof kIndexMagic) != 0) {
    refuse("is not a Switchyard token dataset index (wrong magic)");
  }
  const uint32_t version = load_u32(idx + kAtVersion);
  if (version != kIndexVersion) {
    refuse("has format version " + std::to_string(version) + "; this Switchyard reads version " +
           std::to_string(kIndexVersion));
  }
  IndexHeader h;
  const uint32_t dtype = load_u32(idx + kAtDtype);
  if (dtype != static_cast<uint32_t>(TokenDtype::kUint16) &&
      dtype != static_cast<uint32_t>(TokenDtype::kUint32)) {
    refuse("has unknown dtype code " + std::to_string(dtype) + " (1 = uint16, 2 = uint32)");
  }
  h.dtype = static_cast<TokenDtype>(dtype);
  h.vocab_size = load_u64(idx + kAtVocab);
  const uint64_t max_vocab = uint64_t{1} << (8 * dtype_bytes(h.dtype));
  if (h.vocab_size == 0 || h.vocab_size > max_vocab) {
    refuse("has vocabulary size " + u64s(h.vocab_size) + ", outside [1, " + u64s(max_vocab) +
           "] for " + dtype_name(h.dtype) + " ids");
  }
  h.eod_id = static_cast<int64_t>(load_u64(idx + kAtEod));
  if (h.eod_id < -1 || (h.eod_id >= 0 && static_cast<uint64_t>(h.eod_id) >= h.vocab_size)) {
    refuse("has end-of-document id " + std::to_string(h.eod_id) +
           ", neither -1 (none) nor below the vocabulary size " + u64s(h.vocab_size));
  }
  if (!parse_digest(idx + kAtDigest, &h.tokenizer_digest)) {
    refuse("has a malformed tokenizer digest field (not NUL-padded printable ASCII)");
  }
  for (size_t i = kAtReserved; i < kIndexHeaderBytes; ++i) {
    if (idx[i] != 0) refuse("has non-zero reserved header bytes");
  }
  h.num_documents = load_u64(idx + kAtDocuments);
  h.num_tokens = load_u64(idx + kAtTokens);
  if (h.num_documents == 0) refuse("holds no documents");
  // The offsets table: N + 1 entries of 8 bytes after the header, nothing after it.
  const uint64_t table = idx_size - kIndexHeaderBytes;
  if (table % 8 != 0 || table / 8 == 0 || table / 8 - 1 != h.num_documents) {
    refuse("is " + u64s(idx_size) + " bytes, but a header for " + u64s(h.num_documents) +
           " documents needs " +
           (h.num_documents < (UINT64_MAX - kIndexHeaderBytes) / 8 - 1
                ? u64s(kIndexHeaderBytes + 8 * (h.num_documents + 1))
                : std::string("more than 2^64")) +
           " (truncated or not an index)");
  }
  const uint64_t elem = dtype_bytes(h.dtype);
  if (bin_size % elem != 0 || bin_size / elem != h.num_tokens) {
    throw ConfigError(bin_name, "is " + u64s(bin_size) + " bytes, but its index '" + idx_name +
                                    "' says " + u64s(h.num_tokens) + " " + dtype_name(h.dtype) +
                                    " tokens (truncated, or the index of another dataset)");
  }
  if (expect.vocab_size != 0) {
    const bool ok = expect.vocab_may_be_smaller ? h.vocab_size <= expect.vocab_size
                                                : h.vocab_size == expect.vocab_size;
    if (!ok) {
      refuse("has vocabulary size " + u64s(h.vocab_size) + ", but the model's is " +
             u64s(expect.vocab_size) + (expect.vocab_may_be_smaller ? " (must be at most)" : ""));
    }
  }
  if (!expect.tokenizer_digest.empty() && expect.tokenizer_digest != h.tokenizer_digest) {
    refuse("was prepared with tokenizer '" + h.tokenizer_digest + "', not the one given (" +
           (expect.tokenizer_name.empty() ? "" : expect.tokenizer_name + ", ") + "'" +
           expect.tokenizer_digest + "')");
  }
  // Offsets: every one read once, in order, before any is used.
  uint64_t previous = index_offset(idx, 0);
  if (previous != 0) refuse("document offset 0 is " + u64s(previous) + ", not 0");
  for (uint64_t i = 1; i <= h.num_documents; ++i) {
    const uint64_t offset = index_offset(idx, i);
    if (offset <= previous) {
      refuse("document offset " + u64s(i) + " (" + u64s(offset) + ") is not above offset " +
             u64s(i - 1) + " (" + u64s(previous) + "): offsets must increase");
    }
    if (offset > h.num_tokens) {
      refuse("document offset " + u64s(i) + " (" + u64s(offset) + ") is past the " +
             u64s(h.num_tokens) + " tokens");
    }
    previous = offset;
  }
  if (previous != h.num_tokens) {
    refuse("the last document ends at token " + u64s(previous) + ", not at the token count " +
           u64s(h.num_tokens));
  }
  return h;
}

}  // namespace switchyard::train::data
