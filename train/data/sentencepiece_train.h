// File: train/data/sentencepiece_train.h
//
// `switchyard tokenizer train`: a SentencePiece model (BPE or unigram) from text files, through
// the SentencePiece library's trainer (sentencepiece::SentencePieceTrainer). Switchyard reads
// the inputs itself (line_reader.h: checked like every user file, UTF-8 required, lines longer
// than max_sentence_length given in pieces rather than dropped) and feeds them to the trainer
// as sentences; the trainer keeps the sentences it samples in memory (max_sentences bounds
// that). The model is written to `<prefix>.model` and its pieces with their scores to
// `<prefix>.vocab` (one "piece<TAB>score" line per id), each atomically (output_file.h).
//
// Option errors name the command-line option of `switchyard tokenizer train` (--vocab-size,
// --type, --character-coverage, --threads, --max-sentences, --max-sentence-length,
// --normalization, --out).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::train::data {

enum class SentencePieceModelType { kBpe, kUnigram };

// "bpe" / "unigram"; anything else is a ConfigError naming `field`.
SentencePieceModelType parse_sentencepiece_model_type(const std::string& text,
                                                      const std::string& field);

struct SentencePieceTrainOptions {
  std::vector<std::string> inputs;  // text files (list_input_files expands directories)
  std::string output_prefix;        // writes <prefix>.model and <prefix>.vocab
  int64_t vocab_size = 8000;        // [8, 1 << 24]; the corpus must have enough distinct pieces
  SentencePieceModelType model_type = SentencePieceModelType::kUnigram;
  double character_coverage = 0.9995;  // (0, 1]: share of characters the model covers
  int num_threads = 1;                 // [1, 1024]
  bool byte_fallback = false;          // unknown characters as UTF-8 byte pieces instead of <unk>
  // Text normalization built into the model: nmt_nfkc (SentencePiece's default: NFKC, control
  // characters and line breaks to spaces, runs of spaces merged), nfkc, nmt_nfkc_cf, nfkc_cf
  // (case-folded) or identity (text as it is; a smaller model file).
  std::string normalization = "nmt_nfkc";
  int64_t max_sentences = 0;           // trainer's sample of input lines; 0 = every line
  int64_t max_sentence_length = 4192;  // bytes; [16, 1 MiB]
  bool quiet = true;                   // hide the trainer's INFO log lines on stderr
};

struct SentencePieceTrainResult {
  std::string model_path, vocab_path;
  int64_t vocab_size = 0;
  uint64_t sentences = 0;  // lines (and pieces of long lines) given to the trainer
  std::string digest;      // SHA-256 of the .model file
};

// Checks the options and the input files (ConfigError, one line) without training.
void validate_sentencepiece_options(const SentencePieceTrainOptions& options);

// Validates, trains, writes the two files. A corpus the trainer refuses (a vocabulary larger
// than the corpus supports, no text) is a ConfigError quoting SentencePiece's reason; nothing is
// written then.
SentencePieceTrainResult train_sentencepiece(const SentencePieceTrainOptions& options);

}  // namespace switchyard::train::data
