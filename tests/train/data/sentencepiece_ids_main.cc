// Driver of tests/train/sentencepiece_ids_test.py: Switchyard's SentencePiece side.
//   sentencepiece_ids train PREFIX bpe|unigram VOCAB BYTE_FALLBACK(0|1) NORMALIZATION INPUT...
//       trains <PREFIX>.model with train_sentencepiece;
//   sentencepiece_ids encode MODEL TEXT_FILE
//       prints, for every line of TEXT_FILE (without its '\n'), one JSON object
//       {"ids": [...], "text": "<decode(ids)>"}.
// Exit status 2 with one line on bad input, as the switchyard tool.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/data/sentencepiece_train.h"

namespace data = switchyard::train::data;

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() >= 7 && args[0] == "train") {
      data::SentencePieceTrainOptions o;
      o.output_prefix = args[1];
      o.model_type = data::parse_sentencepiece_model_type(args[2], "type");
      o.vocab_size = std::stoll(args[3]);
      o.byte_fallback = args[4] == "1";
      o.normalization = args[5];
      o.character_coverage = 1.0;
      o.inputs.assign(args.begin() + 6, args.end());
      const data::SentencePieceTrainResult r = data::train_sentencepiece(o);
      std::printf("%s %lld\n", r.model_path.c_str(), static_cast<long long>(r.vocab_size));
      return 0;
    }
    if (args.size() == 3 && args[0] == "encode") {
      const auto model = data::SentencePieceTokenizer::load(args[1]);
      std::ifstream in(args[2], std::ios::binary);
      std::string line;
      while (std::getline(in, line)) {
        const std::vector<int64_t> ids = model->encode(line);
        std::cout << nlohmann::json{{"ids", ids}, {"text", model->decode(ids)}}.dump() << "\n";
      }
      return 0;
    }
    std::fprintf(stderr,
                 "usage: %s train PREFIX TYPE VOCAB BYTE_FALLBACK NORMALIZATION INPUT... | "
                 "encode MODEL TEXT_FILE\n",
                 argv[0]);
    return 2;
  } catch (const switchyard::ConfigError& e) {
    std::fprintf(stderr, "sentencepiece_ids: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sentencepiece_ids: error: %s\n", e.what());
    return 1;
  }
}
