// File: train/data/tokenizer_loader.h
//
// The tokenizer a command or a config names: "byte" (byte_tokenizer.h), or the path of a
// SentencePiece .model file (sentencepiece_tokenizer.h).
#pragma once

#include <memory>
#include <string>

#include "train/data/tokenizer.h"

namespace switchyard::train::data {

// `spec` is "byte" or a .model path; errors name `field` (e.g. "--tokenizer",
// "data.tokenizer_model") and the path, in one line.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec, const std::string& field);

}  // namespace switchyard::train::data
