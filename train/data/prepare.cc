#include "train/data/prepare.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/errors.h"
#include "core/input_file.h"
#include "train/data/chunk_encoder.h"
#include "train/data/indexed_dataset.h"
#include "train/data/line_reader.h"
#include "train/data/output_file.h"

namespace switchyard::train::data {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// The same file, when both exist (hard links and symbolic links included).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

std::string parent_directory(const std::string& prefix) {
  const fs::path parent = fs::path(prefix).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Ids [begin, end) in the dataset's dtype, little-endian.
void append_ids(std::vector<int64_t>::const_iterator begin,
                std::vector<int64_t>::const_iterator end,
                TokenDtype dtype,
                std::string* out) {
  const size_t width = dtype_bytes(dtype);
  const size_t at = out->size();
  out->resize(at + static_cast<size_t>(end - begin) * width);
  auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
  if (dtype == TokenDtype::kUint16) {
    for (auto it = begin; it != end; ++it) store_u16(p, static_cast<uint16_t>(*it)), p += 2;
  } else {
    for (auto it = begin; it != end; ++it) store_u32(p, static_cast<uint32_t>(*it)), p += 4;
  }
}

std::string u64_bytes(uint64_t v) {
  std::string s(8, '\0');
  store_u64(reinterpret_cast<unsigned char*>(s.data()), v);
  return s;
}

}  // namespace

std::vector<std::string> list_input_files(const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw ConfigError("inputs", "no input files given");
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (input.empty()) throw ConfigError("inputs", "an input path is empty");
    if (!fs::is_directory(input, ec)) {
      files.push_back(input);  // checked when opened (core/input_file.h)
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(input, fs::directory_options::none, ec), end;
    if (ec) throw ConfigError(input, "cannot be listed: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw ConfigError(input, "cannot be listed: " + ec.message());
      if (hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) found.push_back(it->path().string());
    }
    if (found.empty()) throw ConfigError(input, "is a directory without files to prepare");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

PrepareResult prepare_indexed_dataset(const Tokenizer& tokenizer, const PrepareOptions& options) {
  // --- Everything the user gave is checked before an output file exists. ---
  if (options.threads < 1 || options.threads > 1024) {
    throw ConfigError("--threads",
                      "is " + std::to_string(options.threads) + ", must be in [1, 1024]");
  }
  if (options.chunk_bytes < 1 || options.chunk_bytes > (size_t{256} << 20) ||
      options.max_line_bytes < 4 || options.max_line_bytes > (size_t{256} << 20)) {
    throw ConfigError("prepare", "chunk and line sizes must be in [4 B, 256 MiB]");
  }
  if (options.output_prefix.empty()) throw ConfigError("--out", "is an empty output prefix");
  require_directory(parent_directory(options.output_prefix), "directory for the output");
  const int64_t vocab = tokenizer.vocab_size();
  int64_t eod = options.eod_id.has_value() ? *options.eod_id : tokenizer.eod_id();
  if (eod < -1 || eod > vocab) {
    throw ConfigError("--eod-id", "is " + std::to_string(eod) + ", must be -1 (none) or in [0, " +
                                      std::to_string(vocab) + "] for the " +
                                      tokenizer.description() + " tokenizer");
  }
  IndexHeader header;
  header.vocab_size = static_cast<uint64_t>(eod == vocab ? vocab + 1 : vocab);
  header.dtype = dtype_for_vocab(header.vocab_size);
  header.eod_id = eod;
  header.tokenizer_digest = tokenizer.digest();
  if (header.vocab_size > (uint64_t{1} << 32)) {
    throw ConfigError("--tokenizer", "vocabulary of " + std::to_string(header.vocab_size) +
                                         " ids does not fit uint32 token files");
  }

  PrepareResult result;
  result.bin_path = bin_path(options.output_prefix);
  result.idx_path = index_path(options.output_prefix);
  const std::vector<std::string> files = list_input_files(options.inputs);
  PrepareProgress progress;
  progress.files_total = files.size();
  for (const std::string& f : files) {
    progress.bytes_total += check_input_file({f, "text file", kMaxStreamedTextBytes, ""});
    for (const std::string& out : {result.bin_path, result.idx_path}) {
      if (same_file(f, out)) {
        throw ConfigError(f, "is an input and also the output '" + out + "'");
      }
    }
  }

  // --- Stream: read, encode in parallel, write in order. ---
  OutputFile bin(result.bin_path);
  OutputFile idx(result.idx_path);
  idx.write(std::string(kIndexHeaderBytes, '\0'));  // the header, once the counts are known
  idx.write(u64_bytes(0));
  uint64_t tokens = 0;          // written to the .bin
  uint64_t document_start = 0;  // first token of the current document
  std::string bytes;            // a chunk's ids in the file's dtype
  std::string offsets;          // a chunk's document offsets for the .idx
  const std::vector<int64_t> eod_ids =
      eod >= 0 ? std::vector<int64_t>{eod} : std::vector<int64_t>{};
  auto sink = [&](EncodedChunk& e) {
    for (const int64_t id : e.ids) {
      if (id < 0 || static_cast<uint64_t>(id) >= header.vocab_size) {
        throw InternalError(tokenizer.description() + " produced id " + std::to_string(id));
      }
    }
    bytes.clear();
    offsets.clear();
    size_t written = 0;  // of e.ids
    auto write_ids = [&](size_t end) {
      append_ids(e.ids.begin() + static_cast<std::ptrdiff_t>(written),
                 e.ids.begin() + static_cast<std::ptrdiff_t>(end), header.dtype, &bytes);
      tokens += end - written;
      written = end;
    };
    for (const size_t end : e.document_id_ends) {
      write_ids(end);
      if (tokens > document_start) {
        append_ids(eod_ids.begin(), eod_ids.end(), header.dtype, &bytes);
        tokens += eod_ids.size();
        offsets += u64_bytes(tokens);
        ++header.num_documents;
        document_start = tokens;
      } else {
        ++result.empty_documents;
      }
    }
    write_ids(e.ids.size());
    bin.write(bytes);
    idx.write(offsets);
    progress.bytes_done += e.chunk.input_bytes;
    progress.files_done += e.chunk.ends_file ? 1 : 0;
    progress.documents = header.num_documents;
    progress.tokens = document_start;
    if (options.progress) options.progress(progress);
  };
  {
    ChunkEncoder encoder(tokenizer, options.threads, sink);
    DocumentChunker chunker(files, options.documents, options.chunk_bytes, options.max_line_bytes);
    TextChunk chunk;
    while (chunker.next(&chunk)) encoder.submit(chunk);
    encoder.finish();
  }
  if (header.num_documents == 0) {
    throw ConfigError("inputs", "hold no text to tokenize (" + std::to_string(files.size()) +
                                    " files, every document empty)");
  }
  header.num_tokens = tokens;
  idx.write_at(0, encode_index_header(header));
  bin.finish();
  idx.finish();
  // A reader never pairs the new .bin with an older .idx: that goes first, the new .idx last.
  if (::unlink(result.idx_path.c_str()) != 0 && errno != ENOENT) {
    throw Error(result.idx_path + ": cannot remove the previous index: " + std::strerror(errno));
  }
  bin.commit();
  idx.commit();
  result.header = header;
  result.files = files.size();
  result.input_bytes = progress.bytes_done;
  return result;
}

}  // namespace switchyard::train::data
