// File: train/token_file.h
//
// The two tokenizations Switchyard reads, without LibTorch (the fuzz targets link this alone):
//   * text: byte-level, every byte of UTF-8 (or any) text is one token id in [0, 256);
//   * uint16 token files: little-endian uint16 ids, each below the model's vocabulary size.
// Corpus loading (corpus.h) and prompts (`train`, `generate`) go through these functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::train {

enum class CorpusFormat {
  kText,       // UTF-8 text, one token per byte
  kTokensU16,  // little-endian uint16 token ids
};

// Number of tokens in a file of `bytes` bytes. A uint16 file of an odd size is refused
// (ConfigError "data.path"); `path` names the file in the reason.
int64_t token_count(uint64_t bytes, CorpusFormat format, const std::string& path);

// Decodes `bytes` into out[0, token_count(...)). Every id must be below `vocab_size` (byte-level
// text needs vocab_size >= 256): otherwise a ConfigError naming the field, the position and the
// id, before anything is returned.
void decode_tokens(const std::string& bytes,
                   CorpusFormat format,
                   int64_t vocab_size,
                   const std::string& path,
                   int64_t* out);

// Byte-level text <-> token ids (a byte >= 0x80 is one id in [128, 256), never negative).
std::vector<int64_t> encode_text(const std::string& text);
// Ids outside [0, 256) are written as '?'.
std::string decode_text(const std::vector<int64_t>& ids);

}  // namespace switchyard::train
