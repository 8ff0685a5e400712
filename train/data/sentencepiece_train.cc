#include "train/data/sentencepiece_train.h"

#include <sentencepiece_trainer.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "core/errors.h"
#include "core/input_file.h"
#include "train/data/line_reader.h"
#include "train/data/output_file.h"
#include "train/data/prepare.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/sha256.h"

namespace switchyard::train::data {
namespace {

// The input files' lines, without their line breaks, as the trainer's sentences. An error
// (a bad file) ends the iteration; the trainer then stops and the error is rethrown.
class LineSentences : public sentencepiece::SentenceIterator {
 public:
  LineSentences(const std::vector<std::string>& files, size_t max_length)
      : files_(files), max_length_(max_length) {
    Next();
  }
  bool done() const override { return done_; }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override {
    if (!error_) return sentencepiece::util::Status();
    return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal,
                                       "reading the input files failed");
  }
  void Next() override {
    try {
      advance();
    } catch (...) {
      error_ = std::current_exception();
      done_ = true;
    }
  }
  const std::exception_ptr& error() const { return error_; }
  uint64_t count() const { return count_; }

 private:
  void advance() {
    std::string_view line;
    while (true) {
      if (!reader_) {
        if (next_file_ == files_.size()) {
          done_ = true;
          return;
        }
        reader_ = std::make_unique<LineReader>(
            InputFile{files_[next_file_++], "text file", kMaxStreamedTextBytes, ""}, max_length_,
            /*require_utf8=*/true);
      }
      if (reader_->next(&line)) break;
      reader_.reset();
    }
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    value_.assign(line);
    ++count_;
  }

  const std::vector<std::string>& files_;
  size_t max_length_;
  size_t next_file_ = 0;
  std::unique_ptr<LineReader> reader_;
  std::string value_;
  bool done_ = false;
  std::exception_ptr error_;
  uint64_t count_ = 0;
};

std::string parent_directory(const std::string& prefix) {
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Written as SentencePiece's own trainer writes a .vocab file.
std::string vocab_file_text(const SentencePieceTokenizer& model) {
  std::ostringstream out;
  for (int64_t id = 0; id < model.vocab_size(); ++id) {
    out << model.piece(id) << "\t" << model.score(id) << "\n";
  }
  return out.str();
}

}  // namespace

SentencePieceModelType parse_sentencepiece_model_type(const std::string& text,
                                                      const std::string& field) {
  if (text == "bpe") return SentencePieceModelType::kBpe;
  if (text == "unigram") return SentencePieceModelType::kUnigram;
  throw ConfigError(field, "'" + text + "' is not a model type (bpe or unigram)");
}

void validate_sentencepiece_options(const SentencePieceTrainOptions& o) {
  auto range = [](const char* field, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) {
      throw ConfigError(field, "is " + std::to_string(v) + ", must be in [" + std::to_string(lo) +
                                   ", " + std::to_string(hi) + "]");
    }
  };
  range("--vocab-size", o.vocab_size, 8, int64_t{1} << 24);
  range("--threads", o.num_threads, 1, 1024);
  range("--max-sentences", o.max_sentences, 0, int64_t{1} << 40);
  range("--max-sentence-length", o.max_sentence_length, 16, int64_t{1} << 20);
  if (!(o.character_coverage > 0.0 && o.character_coverage <= 1.0)) {
    throw ConfigError("--character-coverage",
                      "is " + std::to_string(o.character_coverage) + ", must be in (0, 1]");
  }
  if (o.normalization != "nmt_nfkc" && o.normalization != "nfkc" &&
      o.normalization != "nmt_nfkc_cf" && o.normalization != "nfkc_cf" &&
      o.normalization != "identity") {
    throw ConfigError("--normalization", "'" + o.normalization +
                                             "' is not one of nmt_nfkc, nfkc, nmt_nfkc_cf, "
                                             "nfkc_cf, identity");
  }
  if (o.output_prefix.empty()) throw ConfigError("--out", "is an empty output prefix");
  require_directory(parent_directory(o.output_prefix), "directory for the output");
  for (const std::string& f : list_input_files(o.inputs)) {
    check_input_file({f, "text file", kMaxStreamedTextBytes, ""});
  }
}

SentencePieceTrainResult train_sentencepiece(const SentencePieceTrainOptions& o) {
  validate_sentencepiece_options(o);
  const std::vector<std::string> files = list_input_files(o.inputs);
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", o.model_type == SentencePieceModelType::kBpe ? "bpe" : "unigram"},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"num_threads", std::to_string(o.num_threads)},
      {"byte_fallback", o.byte_fallback ? "true" : "false"},
      {"input_sentence_size", std::to_string(o.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(o.max_sentence_length)},
      {"normalization_rule_name", o.normalization},
      {"minloglevel", o.quiet ? "1" : "0"},
  };
  LineSentences sentences(files, static_cast<size_t>(o.max_sentence_length));
  std::string model;
  const sentencepiece::util::Status status =
      sentencepiece::SentencePieceTrainer::Train(args, &sentences, &model);
  if (sentences.error()) std::rethrow_exception(sentences.error());
  if (!status.ok()) {
    throw ConfigError("tokenizer train", "SentencePiece refused to train: " + status.ToString());
  }
  // Loading the model back checks it and gives the pieces for the .vocab file.
  SentencePieceTrainResult result;
  result.model_path = o.output_prefix + ".model";
  result.vocab_path = o.output_prefix + ".vocab";
  const auto loaded = SentencePieceTokenizer::from_bytes(model, result.model_path);
  OutputFile model_file(result.model_path);
  model_file.write(model);
  OutputFile vocab_file(result.vocab_path);
  vocab_file.write(vocab_file_text(*loaded));
  model_file.finish();
  vocab_file.finish();
  vocab_file.commit();
  model_file.commit();
  result.vocab_size = loaded->vocab_size();
  result.sentences = sentences.count();
  result.digest = loaded->digest();
  return result;
}

}  // namespace switchyard::train::data
