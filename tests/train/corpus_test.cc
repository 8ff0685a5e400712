#include "train/corpus.h"

#include <cstdio>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"
#include "train/data/tokenizer.h"
#include "train/experiment.h"

namespace switchyard::train {
namespace {

using ::testing::HasSubstr;

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  return "<no error>";
}

CorpusOptions text_options(const std::string& path, int64_t seq) {
  CorpusOptions o;
  o.path = path;
  o.seq_length = seq;
  return o;
}

TEST(Corpus, SplitsBytesIntoTrainHeadAndValTail) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += static_cast<char>('a' + i % 26);
  const Corpus c = load_corpus(text_options(write_file("c.txt", text), 4));
  ASSERT_EQ(c.train.numel(), 90);
  ASSERT_EQ(c.val.numel(), 10);
  EXPECT_EQ(c.train[0].item<int64_t>(), 'a');
  EXPECT_EQ(c.val[0].item<int64_t>(), 'a' + 90 % 26);
  EXPECT_EQ(c.train.scalar_type(), at::kLong);
}

TEST(Corpus, KeepsHighBytes) {
  const std::string text = "\xc3\xa9t\xc3\xa9 caf\xc3\xa9 na\xc3\xafve ...........";
  CorpusOptions o = text_options(write_file("u.txt", text), 1);
  o.val_fraction = 0.5;
  const Corpus c = load_corpus(o);
  EXPECT_EQ(c.train[0].item<int64_t>(), 0xc3);
  EXPECT_LT(at::max(c.train).item<int64_t>(), 256);
}

TEST(Corpus, ReadsUint16Tokens) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const int id = 300 + i;
    bytes += static_cast<char>(id & 0xff);
    bytes += static_cast<char>(id >> 8);
  }
  CorpusOptions o = text_options(write_file("t.bin", bytes), 2);
  o.format = CorpusFormat::kTokensU16;
  o.vocab_size = 1000;
  o.val_fraction = 0.25;
  const Corpus c = load_corpus(o);
  ASSERT_EQ(c.train.numel(), 30);
  EXPECT_EQ(c.train[5].item<int64_t>(), 305);
  EXPECT_EQ(c.val[0].item<int64_t>(), 330);
}

TEST(Corpus, ErrorsNameTheFieldInOneLine) {
  EXPECT_THAT(error_of([] { load_corpus(text_options("/nonexistent/x.txt", 4)); }),
              HasSubstr("data.path: '/nonexistent/x.txt' does not exist"));
  EXPECT_THAT(error_of([] { load_corpus(text_options(write_file("e.txt", ""), 4)); }),
              HasSubstr("is empty"));
  EXPECT_THAT(error_of([] { load_corpus(text_options(write_file("s.txt", "short text"), 64)); }),
              HasSubstr("model.seq_length + 1 = 65"));
  CorpusOptions odd = text_options(write_file("o.bin", "abc"), 1);
  odd.format = CorpusFormat::kTokensU16;
  EXPECT_THAT(error_of([&] { load_corpus(odd); }), HasSubstr("odd number of bytes"));
  CorpusOptions big = text_options(write_file("b.bin", std::string("\xff\xff\x01\x00", 4)), 0);
  big.format = CorpusFormat::kTokensU16;
  big.val_fraction = 0.5;
  EXPECT_THAT(error_of([&] { load_corpus(big); }), HasSubstr("token id 65535 at position 0"));
}

// A tokenizer whose vocabulary is larger than the model's would encode prompts (and TEXT) into
// ids the embedding has no row for: refused for every data format, naming model.vocab_size.
class WideTokenizer final : public data::Tokenizer {
 public:
  void encode(std::string_view text, std::vector<int64_t>* out) const override {
    for (char c : text) out->push_back(static_cast<unsigned char>(c));
  }
  std::string decode(const std::vector<int64_t>& ids) const override { return {}; }
  int64_t vocab_size() const override { return 1000; }
  int64_t eod_id() const override { return -1; }
  std::string digest() const override { return "wide"; }
  std::string description() const override { return "wide (1000 ids)"; }
};

TEST(Corpus, TokenizerWiderThanTheModelIsRefusedForEveryFormat) {
  const std::string u16 = write_file("wide_tokens.u16", std::string(512, '\x01'));
  const std::string text = write_file("wide_text.txt", std::string(512, 'a'));
  const WideTokenizer wide;
  for (auto [format, path] : {std::pair{config::DataConfig::TOKENS_U16, u16},
                              std::pair{config::DataConfig::TEXT, text}}) {
    config::ExperimentConfig c;
    c.mutable_model()->set_vocab_size(256);
    c.mutable_model()->set_seq_length(8);
    c.mutable_train()->set_global_batch_size(2);
    c.mutable_data()->set_format(format);
    c.mutable_data()->set_path(path);
    const std::string err = error_of([&] { load_training_data(c, wide, 0, 1); });
    EXPECT_THAT(err, HasSubstr("model.vocab_size"));
    EXPECT_THAT(err, HasSubstr("smaller than the vocabulary (1000) of tokenizer wide"));
    c.mutable_model()->set_vocab_size(1000);  // the same data loads once the model is wide enough
    EXPECT_NE(load_training_data(c, wide, 0, 1), nullptr);
  }
}

}  // namespace
}  // namespace switchyard::train
