// File: train/data/prepare.h
//
// `switchyard data prepare`: text files -> an indexed token dataset (`<prefix>.bin` +
// `<prefix>.idx`, indexed_format.h), streaming, in memory independent of the corpus size:
//
//   1. the inputs (files, or directories walked for their files) are read in order, line by
//      line (document_chunker.h: one document per file, or documents separated by blank lines);
//   2. N threads encode chunks of lines (chunk_encoder.h: a line at a time, with its '\n'); the
//      ids are written in input order, so the result does not depend on N;
//   3. every non-empty document gets the end-of-document id appended (below); documents with no
//      token are skipped (an empty file) and counted;
//   4. ids go to `<prefix>.bin.tmp-<pid>` as uint16 (vocabulary <= 65536) or uint32, offsets to
//      `<prefix>.idx.tmp-<pid>`; at the end the header is written, both are synced, and they are
//      renamed into place (.bin, then .idx, after removing an older .idx). A failure leaves no
//      partial output; a stale pair from before is never half-replaced into a valid-looking one.
//
// The end-of-document id: with `eod_id` unset, the tokenizer's own (SentencePiece: the model's
// </s>, when it has one; the byte tokenizer has none, so byte-level documents are written back
// to back with nothing between them); -1 for none; or an id in [0, V] where V is the
// tokenizer's vocabulary size, V itself making the dataset's vocabulary V + 1 (e.g. 256 for
// byte-level text, vocabulary 257).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/data/document_chunker.h"
#include "train/data/indexed_format.h"
#include "train/data/tokenizer.h"

namespace switchyard::train::data {

struct PrepareProgress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;  // of the input files
  uint64_t documents = 0, tokens = 0;        // written so far
};

struct PrepareOptions {
  std::vector<std::string> inputs;  // text files, or directories (their files, list_input_files)
  std::string output_prefix;        // writes <prefix>.bin and <prefix>.idx
  DocumentBoundary documents = DocumentBoundary::kFile;
  std::optional<int64_t> eod_id;            // see above
  int threads = 1;                          // encoding threads, [1, 1024]
  size_t chunk_bytes = size_t{1} << 20;     // text per encoding task, [1, 256 MiB]
  size_t max_line_bytes = size_t{1} << 20;  // longer lines are encoded in pieces (line_reader.h)
  // Called on the calling thread after every chunk written (the last call is the end).
  std::function<void(const PrepareProgress&)> progress;
};

struct PrepareResult {
  std::string bin_path, idx_path;
  IndexHeader header;
  uint64_t files = 0;
  uint64_t input_bytes = 0;
  uint64_t empty_documents = 0;  // skipped: no token
};

// The files named by `inputs`, in order: a file as given; a directory's regular files (symbolic
// links to files included), walked recursively in byte order of their paths, skipping names
// that start with '.' (and not following links to directories). A missing path, or a directory
// without files, is a ConfigError naming it.
std::vector<std::string> list_input_files(const std::vector<std::string>& inputs);

// Prepares the dataset (above). Bad options or inputs: one-line ConfigError naming the option
// or file, before anything is written; a write failure: Error naming the output file. Either
// way no output file is left behind.
PrepareResult prepare_indexed_dataset(const Tokenizer& tokenizer, const PrepareOptions& options);

}  // namespace switchyard::train::data
