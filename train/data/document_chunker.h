// File: train/data/document_chunker.h
//
// Cuts a list of text files into documents, and documents into chunks of whole lines of about
// `chunk_bytes` for the encoder, reading each file as a stream (line_reader.h): memory holds one
// chunk at a time, whatever the size of the files.
//
// Documents (docs/data.md):
//   * kFile: every input file is one document, its bytes exactly (the default; like one
//     Megatron JSON record per file);
//   * kBlankLine: a file holds documents separated by one or more blank lines (lines of only
//     spaces, tabs and line breaks), which belong to no document; a document never spans files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "train/data/line_reader.h"

namespace switchyard::train::data {

enum class DocumentBoundary { kFile, kBlankLine };

struct TextChunk {
  std::string text;                 // lines, each with its '\n' (or pieces of a long line)
  std::vector<uint32_t> line_ends;  // end offset in `text` of each line or piece, increasing
  // Where documents end in this chunk, as line counts, non-decreasing: a document ends after
  // line document_ends[k] - 1. Lines after the last entry continue into the next chunk. An entry
  // equal to the one before (or 0 first) ends a document with no line in this chunk: the end of
  // a document the previous chunk began, or an empty one. Blank-line documents are packed
  // several to a chunk (up to the chunk size), so small documents cost no hand-off each.
  std::vector<uint32_t> document_ends;
  bool ends_file = false;
  size_t file_index = 0;
  uint64_t input_bytes = 0;  // bytes of the file consumed by this chunk (blank lines included)

  std::string_view line(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : line_ends[i - 1];
    return std::string_view(text).substr(begin, line_ends[i] - begin);
  }
};

class DocumentChunker {
 public:
  // `files` are read in order; each must be UTF-8 text (line_reader.h).
  DocumentChunker(std::vector<std::string> files,
                  DocumentBoundary boundary,
                  size_t chunk_bytes,
                  size_t max_line_bytes);

  // The next chunk; false after the last file's last chunk.
  bool next(TextChunk* chunk);

 private:
  bool open_next_file();

  std::vector<std::string> files_;
  DocumentBoundary boundary_;
  size_t chunk_bytes_;
  size_t max_line_bytes_;
  size_t file_index_ = 0;  // of the file open in reader_ (or next to open)
  std::unique_ptr<LineReader> reader_;
  uint64_t reported_bytes_ = 0;  // of reader_'s bytes, given to chunks so far
  bool document_has_lines_ = false;
};

}  // namespace switchyard::train::data
