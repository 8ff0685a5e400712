// Tokenizers (train/data/byte_tokenizer.h, sentencepiece_tokenizer.h, sentencepiece_train.h):
// byte-level round trips, SentencePiece BPE and unigram models trained on a slice of the bundled
// corpus, loading refusals and option validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "core/errors.h"
#include "tests/train/data/data_test_util.h"
#include "train/data/byte_tokenizer.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/data/sentencepiece_train.h"
#include "train/data/tokenizer_loader.h"
#include "train/sha256.h"

namespace switchyard::train::data {
namespace {

using ::testing::HasSubstr;
using testing::refusal;
using testing::ScratchDir;

TEST(ByteTokenizer, EveryByteIsOneUnsignedIdAndTextRoundTrips) {
  const ByteTokenizer t;
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::vector<int64_t> ids = t.encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(t.decode(ids), all);
  EXPECT_EQ(t.decode(t.encode("caf\xc3\xa9\n")), "caf\xc3\xa9\n");
  EXPECT_EQ(t.decode({104, 256, -1, 105}), "h??i");
  EXPECT_EQ(t.vocab_size(), 256);
  EXPECT_EQ(t.eod_id(), -1);
  EXPECT_EQ(t.digest(), "byte");
  std::vector<int64_t> appended = {7};
  t.encode("ab", &appended);
  EXPECT_EQ(appended, (std::vector<int64_t>{7, 'a', 'b'}));
}

// Trains a small model of `type` on a slice of the corpus into the scratch directory.
SentencePieceTrainResult train(const ScratchDir& s,
                               SentencePieceModelType type,
                               int64_t vocab,
                               const std::string& name) {
  SentencePieceTrainOptions o;
  o.inputs = {s.write(name + ".txt", testing::shakespeare(200000))};
  o.output_prefix = s.path(name);
  o.vocab_size = vocab;
  o.model_type = type;
  o.character_coverage = 1.0;
  o.num_threads = 2;
  return train_sentencepiece(o);
}

TEST(SentencePiece, TrainsBpeAndUnigramModelsThatRoundTripText) {
  ScratchDir s;
  for (const auto type : {SentencePieceModelType::kBpe, SentencePieceModelType::kUnigram}) {
    const std::string name = type == SentencePieceModelType::kBpe ? "bpe" : "unigram";
    const SentencePieceTrainResult r = train(s, type, 400, name);
    EXPECT_EQ(r.model_path, s.path(name + ".model"));
    EXPECT_EQ(r.vocab_size, 400);
    EXPECT_GT(r.sentences, 5000u);
    EXPECT_EQ(r.digest, sha256_file(r.model_path));
    // One "piece<TAB>score" line per id.
    std::istringstream vocab(testing::read_file(r.vocab_path));
    std::string line;
    int lines = 0;
    while (std::getline(vocab, line)) lines += line.find('\t') != std::string::npos;
    EXPECT_EQ(lines, 400);

    const auto t = SentencePieceTokenizer::load(r.model_path);
    EXPECT_EQ(t->vocab_size(), 400);
    EXPECT_EQ(t->digest(), r.digest);
    EXPECT_EQ(t->description(), "sentencepiece " + r.model_path);
    EXPECT_EQ(t->unk_id(), 0);
    EXPECT_EQ(t->bos_id(), 1);
    EXPECT_EQ(t->eod_id(), 2);  // </s>
    for (const std::string text :
         {"First Citizen:", "Before we proceed any further, hear me speak.",
          "Methinks the quick brown fox, unheard of, jumped twice."}) {
      const std::vector<int64_t> ids = t->encode(text);
      EXPECT_LT(ids.size(), text.size()) << name << ": subwords, not characters";
      for (const int64_t id : ids) EXPECT_TRUE(id >= 3 && id < 400) << id;
      EXPECT_EQ(t->decode(ids), text) << name;
    }
    // A character the corpus never had is <unk>; ids past the vocabulary decode as it too.
    EXPECT_THAT(t->encode("\xe2\x98\x83"), ::testing::Contains(t->unk_id()));
    EXPECT_EQ(t->decode({t->encode("a")[0], 400, -1}), t->decode({t->encode("a")[0], 0, 0}));
    // The loader picks the same model, or the byte tokenizer.
    EXPECT_EQ(load_tokenizer(r.model_path, "--tokenizer")->digest(), r.digest);
    EXPECT_EQ(load_tokenizer("byte", "--tokenizer")->digest(), "byte");
  }
  // Nothing but the two files per model (and the inputs) is left.
  EXPECT_EQ(s.listing(),
            (std::vector<std::string>{"bpe.model", "bpe.txt", "bpe.vocab", "unigram.model",
                                      "unigram.txt", "unigram.vocab"}));
}

TEST(SentencePiece, ByteFallbackModelsCoverAnyText) {
  ScratchDir s;
  SentencePieceTrainOptions o;
  o.inputs = {s.write("in.txt", testing::shakespeare(100000))};
  o.output_prefix = s.path("bf");
  o.vocab_size = 512;
  o.model_type = SentencePieceModelType::kBpe;
  o.byte_fallback = true;
  const auto t = SentencePieceTokenizer::load(train_sentencepiece(o).model_path);
  const std::string text = "snow \xe2\x98\x83 and \xe4\xb8\xad\xe6\x96\x87";
  EXPECT_EQ(t->decode(t->encode(text)), text);
  // Without normalization the model holds no normalization table: a much smaller file.
  o.normalization = "identity";
  o.output_prefix = s.path("plain");
  const SentencePieceTrainResult plain = train_sentencepiece(o);
  EXPECT_LT(std::filesystem::file_size(plain.model_path) * 4,
            std::filesystem::file_size(s.path("bf.model")));
  EXPECT_EQ(SentencePieceTokenizer::load(plain.model_path)
                ->decode(SentencePieceTokenizer::load(plain.model_path)->encode(text)),
            text);
}

TEST(SentencePiece, RefusesFilesThatAreNotModels) {
  ScratchDir s;
  EXPECT_EQ(refusal([&] { SentencePieceTokenizer::load(s.path("none.model")); }),
            s.path("none.model") + ": does not exist");
  EXPECT_EQ(refusal([&] { SentencePieceTokenizer::load(s.dir(), "data.tokenizer_model"); }),
            "data.tokenizer_model: '" + s.dir() + "' is a directory, not a SentencePiece model");
  s.write("empty.model", "");
  EXPECT_EQ(refusal([&] { SentencePieceTokenizer::load(s.path("empty.model")); }),
            s.path("empty.model") + ": is empty, not a SentencePiece model");
  s.write("text.model", "First Citizen:\nBefore we proceed\n");
  EXPECT_THAT(refusal([&] { SentencePieceTokenizer::load(s.path("text.model"), "--tokenizer"); }),
              HasSubstr("--tokenizer: '" + s.path("text.model") +
                        "' is not a usable SentencePiece model ("));
  EXPECT_THAT(refusal([&] { load_tokenizer(s.path("text.model"), "--tokenizer"); }),
              HasSubstr("is not a usable SentencePiece model"));
}

TEST(SentencePiece, TrainingOptionsAreValidatedBeforeTraining) {
  ScratchDir s;
  SentencePieceTrainOptions good;
  good.inputs = {s.write("in.txt", "a b c\n")};
  good.output_prefix = s.path("m");
  auto error = [&](const std::function<void(SentencePieceTrainOptions*)>& change) {
    SentencePieceTrainOptions o = good;
    change(&o);
    return refusal([&] { validate_sentencepiece_options(o); });
  };
  EXPECT_EQ(error([](auto*) {}), "<accepted>");
  EXPECT_EQ(error([](auto* o) { o->vocab_size = 4; }),
            "--vocab-size: is 4, must be in [8, 16777216]");
  EXPECT_THAT(error([](auto* o) { o->num_threads = 0; }), HasSubstr("--threads: is 0"));
  EXPECT_THAT(error([](auto* o) { o->character_coverage = 0; }),
              HasSubstr("--character-coverage: is 0.000000, must be in (0, 1]"));
  EXPECT_THAT(error([](auto* o) { o->character_coverage = 1.5; }), HasSubstr("(0, 1]"));
  EXPECT_THAT(error([](auto* o) { o->max_sentence_length = 1; }),
              HasSubstr("--max-sentence-length"));
  EXPECT_THAT(error([](auto* o) { o->max_sentences = -1; }), HasSubstr("--max-sentences"));
  EXPECT_THAT(error([](auto* o) { o->output_prefix = ""; }), HasSubstr("--out"));
  EXPECT_THAT(error([](auto* o) { o->normalization = "nfd"; }),
              HasSubstr("--normalization: 'nfd' is not one of"));
  EXPECT_THAT(error([&](auto* o) { o->output_prefix = s.path("no/dir/m"); }),
              HasSubstr("does not exist"));
  EXPECT_THAT(error([](auto* o) { o->inputs = {}; }), HasSubstr("no input files"));
  EXPECT_THAT(error([&](auto* o) { o->inputs = {s.path("missing.txt")}; }),
              HasSubstr("missing.txt: does not exist"));
  EXPECT_THAT(refusal([] { parse_sentencepiece_model_type("word", "--type"); }),
              HasSubstr("--type: 'word' is not a model type (bpe or unigram)"));
  EXPECT_EQ(parse_sentencepiece_model_type("bpe", "--type"), SentencePieceModelType::kBpe);
  // The trainer's own refusal (a vocabulary the corpus cannot fill) is one line; nothing written.
  SentencePieceTrainOptions big = good;
  big.vocab_size = 5000;
  EXPECT_THAT(refusal([&] { train_sentencepiece(big); }),
              HasSubstr("SentencePiece refused to train"));
  // A binary input is refused naming the file and line.
  SentencePieceTrainOptions binary = good;
  binary.inputs = {s.write("bin.txt", std::string("ok\nbad\0line\n", 12))};
  EXPECT_EQ(refusal([&] { train_sentencepiece(binary); }),
            s.path("bin.txt") + ": line 2: holds a NUL byte at offset 3 (a binary file, not text)");
  EXPECT_EQ(s.listing(), (std::vector<std::string>{"bin.txt", "in.txt"}));
}

}  // namespace
}  // namespace switchyard::train::data
