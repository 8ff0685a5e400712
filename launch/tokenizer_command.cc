// `switchyard tokenizer train --vocab-size N --type bpe|unigram --out PREFIX FILES...`: a
// SentencePiece model from text files (train/data/sentencepiece_train.h), for
// `data.tokenizer: SENTENCEPIECE` and `switchyard data prepare --tokenizer PREFIX.model`.
#include <iostream>

#include <boost/program_options.hpp>

#include "launch/cli.h"
#include "launch/command_args.h"
#include "train/data/sentencepiece_train.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
namespace data = train::data;

constexpr const char* kUsage =
    "usage: switchyard tokenizer train --vocab-size N [--type bpe|unigram] --out PREFIX "
    "FILE|DIR...\n\n"
    "Trains a SentencePiece model on the text files (directories: their files, recursively) and\n"
    "writes PREFIX.model and PREFIX.vocab. Use it with data.tokenizer: SENTENCEPIECE,\n"
    "data.tokenizer_model: PREFIX.model, and `switchyard data prepare --tokenizer "
    "PREFIX.model`.\n\n";

int run_tokenizer(const std::vector<std::string>& args) {
  data::SentencePieceTrainOptions o;
  std::string action, type = "unigram";
  bool help = false, verbose = false;
  po::options_description shown("options");
  shown.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "vocab-size", po::value(&o.vocab_size)->default_value(o.vocab_size),
      "vocabulary size, special pieces included")("type", po::value(&type)->default_value(type),
                                                  "model type: bpe or unigram")(
      "out", po::value(&o.output_prefix), "output prefix: writes PREFIX.model and PREFIX.vocab")(
      "character-coverage", po::value(&o.character_coverage)->default_value(o.character_coverage),
      "share of the characters the model covers, (0, 1]")(
      "threads", po::value(&o.num_threads)->default_value(o.num_threads), "trainer threads")(
      "byte-fallback", po::bool_switch(&o.byte_fallback),
      "unknown characters as UTF-8 byte pieces instead of <unk>")(
      "normalization", po::value(&o.normalization)->default_value(o.normalization),
      "nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity")(
      "max-sentences", po::value(&o.max_sentences)->default_value(o.max_sentences),
      "lines the trainer samples; 0 = every line")(
      "max-sentence-length",
      po::value(&o.max_sentence_length)->default_value(o.max_sentence_length),
      "bytes; longer lines are given in pieces")("verbose", po::bool_switch(&verbose),
                                                 "show the SentencePiece trainer's log");
  parse_command_args(
      args, shown,
      {{"action", po::value(&action), 1}, {"inputs", po::value(&o.inputs)->composing(), -1}});
  if (help) {
    std::cout << kUsage << shown;
    return kExitOk;
  }
  if (action != "train") {
    throw UsageError{"tokenizer", action.empty() ? "missing action (train)"
                                                 : "unknown action '" + action + "' (train)"};
  }
  if (o.inputs.empty()) throw UsageError{"tokenizer train", "no input files given"};
  if (o.output_prefix.empty()) throw UsageError{"tokenizer train", "missing --out PREFIX"};
  o.model_type = data::parse_sentencepiece_model_type(type, "--type");
  create_parent_directory(o.output_prefix, "--out");
  o.quiet = !verbose;
  const data::SentencePieceTrainResult r = data::train_sentencepiece(o);
  std::cout << "wrote " << r.model_path << " and " << r.vocab_path << ": " << r.vocab_size << " "
            << type << " pieces from " << r.sentences << " sentences, sha256 " << r.digest << "\n";
  return kExitOk;
}

}  // namespace

Command tokenizer_command() {
  return {"tokenizer", "train a SentencePiece tokenizer (tokenizer train)", run_tokenizer};
}

}  // namespace switchyard::launch
