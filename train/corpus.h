// File: train/corpus.h
//
// The training corpus as token ids, split into a training head and a validation tail.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "train/data/tokenizer.h"
#include "train/token_file.h"

namespace switchyard::train {

struct CorpusOptions {
  std::string path;
  CorpusFormat format = CorpusFormat::kText;
  double val_fraction = 0.1;  // the tail of the corpus held out
  int64_t seq_length = 64;    // each split must hold at least seq_length + 1 tokens
  int64_t vocab_size = 256;   // every token id must be below it
  // Tokenizes TEXT; null = one token per byte (token_file.h). Must outlive load_corpus.
  const data::Tokenizer* tokenizer = nullptr;
};

struct Corpus {
  at::Tensor train;  // [N_train] int64
  at::Tensor val;    // [N_val] int64
};

// Reads and splits the corpus. A missing, unreadable, empty or too-short file, a path that is not
// a regular file or is larger than kMaxCorpusBytes (refused before reading), a token id outside
// the vocabulary (a tokenizer's vocabulary larger than model.vocab_size), or a split shorter than
// seq_length + 1 tokens is a ConfigError naming "data.path" (or the field at fault) with the
// reason, in one line.
Corpus load_corpus(const CorpusOptions& options);

// ConfigError "model.vocab_size" when the tokenizer can produce ids the model has no row for.
void check_vocab_fits(const data::Tokenizer& tokenizer, int64_t model_vocab_size);

}  // namespace switchyard::train
