// The indexed token dataset format and its reader (train/data/indexed_format.h,
// indexed_dataset.h): what is accepted reads back exactly; every malformed .idx / .bin is
// refused with one line naming the file and the reason, before anything in it is used.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/errors.h"
#include "tests/train/data/data_test_util.h"
#include "train/data/indexed_dataset.h"
#include "train/data/indexed_format.h"

namespace switchyard::train::data {
namespace {

using ::testing::HasSubstr;
using testing::refusal;
using testing::ScratchDir;

struct Files {
  std::string idx, bin;
};

// A dataset written by hand from the layout in indexed_format.h.
Files build(const std::vector<std::vector<uint32_t>>& docs,
            TokenDtype dtype = TokenDtype::kUint16,
            uint64_t vocab = 1000,
            int64_t eod = 7,
            const std::string& digest = "byte") {
  IndexHeader h;
  h.dtype = dtype;
  h.vocab_size = vocab;
  h.eod_id = eod;
  h.tokenizer_digest = digest;
  h.num_documents = docs.size();
  Files f;
  std::string offsets(8, '\0');
  uint64_t tokens = 0;
  for (const auto& doc : docs) {
    for (const uint32_t id : doc) {
      unsigned char b[4];
      if (dtype == TokenDtype::kUint16) {
        store_u16(b, static_cast<uint16_t>(id));
        f.bin.append(reinterpret_cast<char*>(b), 2);
      } else {
        store_u32(b, id);
        f.bin.append(reinterpret_cast<char*>(b), 4);
      }
    }
    tokens += doc.size();
    unsigned char b[8];
    store_u64(b, tokens);
    offsets.append(reinterpret_cast<char*>(b), 8);
  }
  h.num_tokens = tokens;
  f.idx = encode_index_header(h) + offsets;
  return f;
}

const std::vector<std::vector<uint32_t>> kDocs = {{1, 2, 3, 7}, {4, 7}, {999, 5, 6, 7}};

std::string open_error(const Files& f, const IndexExpectations& expect = {}) {
  return refusal([&] { IndexedDataset::from_bytes(f.idx, f.bin, "corpus", expect); });
}

void set_u64(std::string* s, size_t at, uint64_t v) {
  store_u64(reinterpret_cast<unsigned char*>(s->data() + at), v);
}
void set_u32(std::string* s, size_t at, uint32_t v) {
  store_u32(reinterpret_cast<unsigned char*>(s->data() + at), v);
}

TEST(IndexFormat, HeaderLayoutIsTheDocumentedOne) {
  const Files f = build(kDocs);
  ASSERT_EQ(f.idx.size(), 128u + 8 * 4);
  EXPECT_EQ(f.idx.substr(0, 8), "SYTOKIDX");
  const auto* p = reinterpret_cast<const unsigned char*>(f.idx.data());
  EXPECT_EQ(load_u32(p + 8), 1u);   // version
  EXPECT_EQ(load_u32(p + 12), 1u);  // uint16
  EXPECT_EQ(load_u64(p + 16), 1000u);
  EXPECT_EQ(load_u64(p + 24), 7u);
  EXPECT_EQ(load_u64(p + 32), 3u);
  EXPECT_EQ(load_u64(p + 40), 10u);
  EXPECT_EQ(f.idx.substr(48, 5), std::string("byte\0", 5));
  EXPECT_EQ(load_u64(p + 128 + 8 * 3), 10u);
  EXPECT_EQ(f.bin.size(), 20u);
  EXPECT_EQ(dtype_for_vocab(65536), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab(65537), TokenDtype::kUint32);
}

TEST(IndexedDataset, ReadsDocumentsBackInBothDtypes) {
  for (const TokenDtype dtype : {TokenDtype::kUint16, TokenDtype::kUint32}) {
    const Files f = build(kDocs, dtype);
    const IndexedDataset d = IndexedDataset::from_bytes(f.idx, f.bin, "corpus");
    ASSERT_EQ(d.num_documents(), 3u);
    EXPECT_EQ(d.num_tokens(), 10u);
    EXPECT_EQ(d.eod_id(), 7);
    EXPECT_EQ(d.header().tokenizer_digest, "byte");
    for (uint64_t i = 0; i < 3; ++i) {
      const TokenSpan span = d.document(i);
      std::vector<uint32_t> got;
      for (uint64_t k = 0; k < span.size(); ++k) got.push_back(span[k]);
      EXPECT_EQ(got, kDocs[i]);
    }
    int64_t ids[4];
    d.read_tokens(6, 4, ids);
    EXPECT_EQ(std::vector<int64_t>(ids, ids + 4), (std::vector<int64_t>{999, 5, 6, 7}));
  }
  // Big ids need uint32.
  const Files big = build({{70000, 1}}, TokenDtype::kUint32, 70001, -1, std::string(64, 'a'));
  const IndexedDataset d = IndexedDataset::from_bytes(big.idx, big.bin, "big");
  EXPECT_EQ(d.document(0)[0], 70000u);
  EXPECT_EQ(d.eod_id(), -1);
}

TEST(IndexedDataset, RefusesEveryTruncationOfTheIndexAndTheTokens) {
  const Files f = build(kDocs);
  for (size_t cut = 0; cut < f.idx.size(); ++cut) {
    const std::string e = open_error({f.idx.substr(0, cut), f.bin});
    EXPECT_THAT(e, HasSubstr("corpus.idx: ")) << cut;
    if (cut == 0) EXPECT_THAT(e, HasSubstr("is empty"));
    if (cut > 0 && cut < 128) EXPECT_THAT(e, HasSubstr("truncated")) << cut;
    if (cut >= 128) EXPECT_THAT(e, HasSubstr("(truncated or not an index)")) << cut;
  }
  for (size_t cut = 0; cut < f.bin.size(); ++cut) {
    EXPECT_THAT(open_error({f.idx, f.bin.substr(0, cut)}),
                HasSubstr("corpus.bin: is " + std::to_string(cut) +
                          " bytes, but its index 'corpus.idx' says 10 uint16 tokens"));
  }
  // Longer files are not accepted either.
  EXPECT_THAT(open_error({f.idx + std::string(8, '\0'), f.bin}), HasSubstr("truncated or not"));
  EXPECT_THAT(open_error({f.idx, f.bin + "xy"}), HasSubstr("corpus.bin: is 22 bytes"));
  EXPECT_THAT(open_error({"", ""}), HasSubstr("corpus.idx: is empty"));
}

TEST(IndexedDataset, RefusesEveryMalformedHeaderField) {
  const Files good = build(kDocs);
  auto with = [&](const std::function<void(std::string*)>& change) {
    Files f = good;
    change(&f.idx);
    return open_error(f);
  };
  EXPECT_EQ(with([](std::string* s) { (*s)[0] = 'X'; }),
            "corpus.idx: is not a Switchyard token dataset index (wrong magic)");
  EXPECT_EQ(with([](std::string* s) { set_u32(s, 8, 2); }),
            "corpus.idx: has format version 2; this Switchyard reads version 1");
  EXPECT_EQ(with([](std::string* s) { set_u32(s, 12, 0); }),
            "corpus.idx: has unknown dtype code 0 (1 = uint16, 2 = uint32)");
  EXPECT_THAT(with([](std::string* s) { set_u32(s, 12, 3); }), HasSubstr("unknown dtype code 3"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 16, 0); }), HasSubstr("vocabulary size 0"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 16, 65537); }),
              HasSubstr("vocabulary size 65537, outside [1, 65536] for uint16 ids"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 24, 1000); }),
              HasSubstr("end-of-document id 1000"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 24, static_cast<uint64_t>(-2)); }),
              HasSubstr("end-of-document id -2"));
  EXPECT_THAT(with([](std::string* s) { std::memset(s->data() + 48, 0, 64); }),
              HasSubstr("malformed tokenizer digest"));
  EXPECT_THAT(with([](std::string* s) { (*s)[60] = 'x'; }),  // not NUL after the padding began
              HasSubstr("malformed tokenizer digest"));
  EXPECT_THAT(with([](std::string* s) { (*s)[49] = '\n'; }), HasSubstr("malformed tokenizer"));
  EXPECT_THAT(with([](std::string* s) { (*s)[120] = 1; }), HasSubstr("reserved header bytes"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 32, 0); }), HasSubstr("holds no documents"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 32, 4); }),
              HasSubstr("a header for 4 documents needs 168"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 32, UINT64_MAX); }),
              HasSubstr("needs more than 2^64"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 40, 11); }),
              HasSubstr("corpus.bin: is 20 bytes, but its index 'corpus.idx' says 11"));
  EXPECT_THAT(with([](std::string* s) { set_u64(s, 40, UINT64_MAX); }),
              HasSubstr("corpus.bin: is 20 bytes"));
}

TEST(IndexedDataset, RefusesOffsetsThatAreNotAPartitionOfTheTokens) {
  const Files good = build(kDocs);
  auto with_offset = [&](uint64_t i, uint64_t v) {
    Files f = good;
    set_u64(&f.idx, 128 + 8 * i, v);
    return open_error(f);
  };
  EXPECT_EQ(with_offset(0, 1), "corpus.idx: document offset 0 is 1, not 0");
  EXPECT_EQ(with_offset(1, 11), "corpus.idx: document offset 1 (11) is past the 10 tokens");
  EXPECT_THAT(with_offset(2, 3), HasSubstr("document offset 2 (3) is not above offset 1 (4)"));
  EXPECT_THAT(with_offset(2, 4), HasSubstr("offsets must increase"));  // an empty document
  EXPECT_THAT(with_offset(3, 9), HasSubstr("last document ends at token 9, not at the token "
                                           "count 10"));
  EXPECT_THAT(with_offset(3, UINT64_MAX), HasSubstr("past the 10 tokens"));
}

TEST(IndexedDataset, RefusesAnotherVocabularyOrTokenizer) {
  const Files f = build(kDocs);
  IndexExpectations e;
  e.vocab_size = 512;
  EXPECT_EQ(open_error(f, e), "corpus.idx: has vocabulary size 1000, but the model's is 512");
  e.vocab_size = 1024;
  EXPECT_THAT(open_error(f, e), HasSubstr("but the model's is 1024"));
  e.vocab_may_be_smaller = true;  // a model padded past the data's vocabulary
  EXPECT_EQ(open_error(f, e), "<accepted>");
  e.vocab_size = 999;
  EXPECT_THAT(open_error(f, e), HasSubstr("(must be at most)"));
  IndexExpectations t;
  t.tokenizer_digest = std::string(64, 'f');
  EXPECT_EQ(open_error(f, t),
            "corpus.idx: was prepared with tokenizer 'byte', not the one given ('" +
                std::string(64, 'f') + "')");
  t.tokenizer_digest = "byte";
  EXPECT_EQ(open_error(f, t), "<accepted>");
}

TEST(IndexedDataset, IdsOutsideTheVocabularyAreRefusedWhereTheyAreRead) {
  Files f = build(kDocs);
  store_u16(reinterpret_cast<unsigned char*>(f.bin.data() + 2 * 5), 1000);  // doc 1, second id
  const IndexedDataset d = IndexedDataset::from_bytes(f.idx, f.bin, "corpus");
  int64_t ids[10];
  EXPECT_NO_THROW(d.read_tokens(0, 5, ids));
  EXPECT_EQ(refusal([&] { d.read_tokens(4, 2, ids); }),
            "corpus.bin: token id 1000 at position 5 is not below the vocabulary size 1000");
  EXPECT_THAT(refusal([&] { d.validate_all_tokens(); }), HasSubstr("position 5"));
}

TEST(IndexedDataset, OpensMappedFilesAndChecksThemAsUserFiles) {
  ScratchDir s;
  const Files f = build(kDocs);
  s.write("ok.idx", f.idx);
  s.write("ok.bin", f.bin);
  IndexedDataset d = IndexedDataset::open(s.path("ok"));
  EXPECT_EQ(d.num_tokens(), 10u);
  EXPECT_EQ(d.document(2)[0], 999u);
  EXPECT_NO_THROW(d.validate_all_tokens());
  // Moving keeps the mapping.
  const IndexedDataset moved = std::move(d);
  EXPECT_EQ(moved.document(1)[0], 4u);

  EXPECT_EQ(refusal([&] { IndexedDataset::open(s.path("none")); }),
            s.path("none.idx") + ": does not exist");
  s.write("nobin.idx", f.idx);
  EXPECT_EQ(refusal([&] { IndexedDataset::open(s.path("nobin")); }),
            s.path("nobin.bin") + ": does not exist");
  std::filesystem::create_directories(s.path("dir.idx"));
  EXPECT_EQ(refusal([&] { IndexedDataset::open(s.path("dir")); }),
            s.path("dir.idx") + ": is a directory, not a token dataset index");
  s.write("short.idx", f.idx.substr(0, 100));
  s.write("short.bin", f.bin);
  EXPECT_EQ(refusal([&] { IndexedDataset::open(s.path("short"), {}, "data.path"); }),
            "data.path: '" + s.path("short.idx") +
                "' is truncated: 100 bytes, shorter than the 128-byte header");
  s.write("empty.idx", "");
  s.write("empty.bin", "");
  EXPECT_THAT(refusal([&] { IndexedDataset::open(s.path("empty")); }), HasSubstr("is empty"));
}

}  // namespace
}  // namespace switchyard::train::data
