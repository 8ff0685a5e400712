#include "train/corpus.h"

#include <cstdio>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"

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

}  // namespace
}  // namespace switchyard::train
