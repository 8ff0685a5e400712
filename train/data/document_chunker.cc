#include "train/data/document_chunker.h"

#include <utility>

namespace switchyard::train::data {
namespace {

bool is_blank(std::string_view line) {
  for (const char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

DocumentChunker::DocumentChunker(std::vector<std::string> files,
                                 DocumentBoundary boundary,
                                 size_t chunk_bytes,
                                 size_t max_line_bytes)
    : files_(std::move(files)),
      boundary_(boundary),
      chunk_bytes_(chunk_bytes),
      max_line_bytes_(max_line_bytes) {}

bool DocumentChunker::open_next_file() {
  if (file_index_ >= files_.size()) return false;
  reader_ = std::make_unique<LineReader>(
      InputFile{files_[file_index_], "text file", kMaxStreamedTextBytes, ""}, max_line_bytes_,
      /*require_utf8=*/true);
  reported_bytes_ = 0;
  document_has_lines_ = false;
  return true;
}

bool DocumentChunker::next(TextChunk* chunk) {
  chunk->text.clear();
  chunk->line_ends.clear();
  chunk->document_ends.clear();
  chunk->ends_file = false;
  if (!reader_ && !open_next_file()) return false;
  chunk->file_index = file_index_;
  auto end_document = [&] {
    chunk->document_ends.push_back(static_cast<uint32_t>(chunk->line_ends.size()));
  };
  auto finish = [&](bool ends_file) {
    chunk->ends_file = ends_file;
    chunk->input_bytes = reader_->bytes_read() - reported_bytes_;
    reported_bytes_ = reader_->bytes_read();
    if (ends_file) {
      reader_.reset();
      ++file_index_;
    }
    return true;
  };
  std::string_view line;
  while (reader_->next(&line)) {
    const bool separator = boundary_ == DocumentBoundary::kBlankLine && !reader_->is_piece() &&
                           !reader_->is_continuation() && is_blank(line);
    if (separator) {
      if (document_has_lines_) {
        document_has_lines_ = false;
        end_document();
        if (chunk->text.size() >= chunk_bytes_) return finish(/*ends_file=*/false);
      }
      continue;  // blank lines between documents
    }
    chunk->text.append(line);
    chunk->line_ends.push_back(static_cast<uint32_t>(chunk->text.size()));
    document_has_lines_ = true;
    if (chunk->text.size() >= chunk_bytes_) return finish(/*ends_file=*/false);
  }
  // End of the file: it ends the document in either mode (in kBlankLine mode an empty last
  // "document" of trailing blank lines is still reported, with no lines; the writer skips it).
  end_document();
  return finish(/*ends_file=*/true);
}

}  // namespace switchyard::train::data
