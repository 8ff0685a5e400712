// The seeded permutation and the sampler of indexed datasets (train/data/permutation.h,
// indexed_sampler.h): the split by documents, samples across document boundaries, epochs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "core/errors.h"
#include "tests/train/data/data_test_util.h"
#include "train/data/indexed_dataset.h"
#include "train/data/indexed_sampler.h"
#include "train/data/permutation.h"

namespace switchyard::train::data {
namespace {

using ::testing::HasSubstr;
using testing::refusal;

TEST(Permutation, IsABijectionWithItsInverseForEverySize) {
  for (const uint64_t n : {1, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4097}) {
    for (const uint64_t key : {0ULL, 1ULL, 0xdeadbeefULL}) {
      const Permutation p(n, key);
      std::vector<bool> seen(n, false);
      for (uint64_t x = 0; x < n; ++x) {
        const uint64_t y = p(x);
        ASSERT_LT(y, n);
        ASSERT_FALSE(seen[y]) << "n " << n << " key " << key;
        seen[y] = true;
        ASSERT_EQ(p.inverse(y), x);
      }
    }
  }
}

TEST(Permutation, DependsOnTheKeyAndIsTheSameEverywhere) {
  const Permutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (uint64_t x = 0; x < 1000; ++x) same += a(x) == b(x);
  EXPECT_LT(same, 20);
  // Fixed values: the permutation is part of the data order a resumed run relies on, so a
  // change here changes which documents are held out and must be deliberate.
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafULL);
  const Permutation c(10, 42);
  std::vector<uint64_t> image;
  for (uint64_t x = 0; x < 10; ++x) image.push_back(c(x));
  EXPECT_EQ(image, (std::vector<uint64_t>{3, 9, 0, 5, 8, 4, 2, 1, 6, 7}));
  // Large ranges work in O(1) memory.
  const Permutation big(uint64_t{1} << 62, 7);
  EXPECT_EQ(big.inverse(big(123456789)), 123456789u);
}

// A dataset of documents of the given lengths; document d's tokens are d * 100 + position, its
// last one the end-of-document id 99999 when `eod`.
IndexedDataset make_dataset(const std::vector<uint64_t>& lengths, bool eod = true) {
  IndexHeader h;
  h.dtype = TokenDtype::kUint32;
  h.vocab_size = 100000;
  h.eod_id = eod ? 99999 : -1;
  h.tokenizer_digest = "byte";
  h.num_documents = lengths.size();
  std::string offsets(8, '\0'), bin;
  uint64_t tokens = 0;
  for (size_t d = 0; d < lengths.size(); ++d) {
    for (uint64_t k = 0; k < lengths[d]; ++k) {
      unsigned char b[4];
      const bool last = eod && k + 1 == lengths[d];
      store_u32(b, last ? 99999u : static_cast<uint32_t>(d * 100 + k));
      bin.append(reinterpret_cast<char*>(b), 4);
    }
    tokens += lengths[d];
    unsigned char b[8];
    store_u64(b, tokens);
    offsets.append(reinterpret_cast<char*>(b), 8);
  }
  h.num_tokens = tokens;
  return IndexedDataset::from_bytes(encode_index_header(h) + offsets, bin, "ds");
}

SamplerOptions options(int64_t block, double val_fraction, uint64_t shuffle = 5) {
  SamplerOptions o;
  o.block_size = block;
  o.val_fraction = val_fraction;
  o.split_seed = 1234;
  o.shuffle_seed = shuffle;
  return o;
}

TEST(IndexedSampler, SplitsByWholeDocumentsDisjointlyAndIndependentlyOfTheShuffleSeed) {
  const IndexedDataset d = make_dataset(std::vector<uint64_t>(40, 10));
  const IndexedSampler train(d, Split::kTrain, options(8, 0.1));
  const IndexedSampler val(d, Split::kValidation, options(8, 0.1));
  EXPECT_EQ(val.num_documents(), 4u);
  EXPECT_EQ(train.num_documents(), 36u);
  std::set<uint64_t> all;
  for (uint64_t k = 0; k < train.num_documents(); ++k) all.insert(train.document(k));
  for (uint64_t k = 0; k < val.num_documents(); ++k)
    EXPECT_TRUE(all.insert(val.document(k)).second);
  EXPECT_EQ(all.size(), 40u);
  // The held-out documents do not depend on the shuffle (training) seed.
  const IndexedSampler val2(d, Split::kValidation, options(8, 0.1, /*shuffle=*/99));
  for (uint64_t k = 0; k < 4; ++k) EXPECT_EQ(val.document(k), val2.document(k));
  // They are not simply the last documents.
  std::vector<uint64_t> held;
  for (uint64_t k = 0; k < 4; ++k) held.push_back(val.document(k));
  std::sort(held.begin(), held.end());
  EXPECT_NE(held, (std::vector<uint64_t>{36, 37, 38, 39}));
}

TEST(IndexedSampler, ValidationCountsAndImpossibleSplits) {
  EXPECT_EQ(validation_documents(10, 0.0, "f"), 0u);
  EXPECT_EQ(validation_documents(10, 0.01, "f"), 1u);  // at least one
  EXPECT_EQ(validation_documents(10, 0.25, "f"), 2u);  // round(2.5) to even
  EXPECT_EQ(validation_documents(10, 0.99, "f"), 9u);  // at least one for training
  EXPECT_EQ(validation_documents(1, 0.0, "f"), 0u);
  EXPECT_THAT(refusal([] { validation_documents(1, 0.1, "ds.bin"); }),
              HasSubstr("ds.bin: holds 1 document, which cannot be split"));
  EXPECT_THAT(refusal([] { validation_documents(5, 1.0, "f"); }), HasSubstr("outside [0, 1)"));
  EXPECT_THAT(refusal([] { validation_documents(5, -0.5, "f"); }), HasSubstr("outside [0, 1)"));
  const IndexedDataset d = make_dataset({5, 5, 5});
  EXPECT_THAT(refusal([&] { IndexedSampler(d, Split::kValidation, options(4, 0.0)); }),
              HasSubstr("has no validation documents"));
  EXPECT_THAT(refusal([&] { IndexedSampler(d, Split::kTrain, options(10, 0.3)); }),
              HasSubstr("the training split holds 10 tokens in 2 documents, fewer than "
                        "block_size + 1 = 11"));
  EXPECT_THAT(refusal([&] { IndexedSampler(d, Split::kTrain, options(0, 0.3)); }),
              HasSubstr("model.seq_length: is 0"));
}

// The split's stream: its documents in order, back to back.
std::vector<int64_t> stream_of(const IndexedDataset& d, const IndexedSampler& s) {
  std::vector<int64_t> stream;
  for (uint64_t k = 0; k < s.num_documents(); ++k) {
    const uint64_t doc = s.document(k);
    std::vector<int64_t> ids(d.document_length(doc));
    d.read_tokens(d.document_offset(doc), ids.size(), ids.data());
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

TEST(IndexedSampler, SamplesAreStreamWindowsAcrossDocumentsAndEachEpochVisitsEachOnce) {
  // Documents shorter and longer than a block.
  const std::vector<uint64_t> lengths = {3, 17, 1, 8, 30, 2, 9, 4, 12, 5};
  const IndexedDataset d = make_dataset(lengths);
  const int64_t block = 8;
  const IndexedSampler s(d, Split::kTrain, options(block, 0.2));
  const std::vector<int64_t> stream = stream_of(d, s);
  ASSERT_EQ(stream.size(), s.num_tokens());
  const uint64_t per_epoch = s.samples_per_epoch();
  EXPECT_EQ(per_epoch, (stream.size() - 1) / block);
  std::vector<int64_t> out(block + 1);
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<uint64_t> starts;
    for (uint64_t k = 0; k < per_epoch; ++k) {
      const uint64_t j = epoch * per_epoch + k;
      const uint64_t start = s.sample_start(j);
      ASSERT_EQ(start % block, 0u);
      starts.insert(start);
      s.sample(j, out.data());
      const std::vector<int64_t> want(stream.begin() + start, stream.begin() + start + block + 1);
      ASSERT_EQ(out, want) << "sample " << j;
    }
    EXPECT_EQ(starts.size(), per_epoch) << "epoch " << epoch;
  }
  // The end-of-document id separates documents inside samples.
  EXPECT_NE(std::find(stream.begin(), stream.end(), 99999), stream.end());
  // Epochs differ in order; the same seeds give the same samples.
  std::vector<uint64_t> e0, e1;
  for (uint64_t k = 0; k < per_epoch; ++k) {
    e0.push_back(s.sample_start(k));
    e1.push_back(s.sample_start(per_epoch + k));
  }
  EXPECT_NE(e0, e1);
  const IndexedSampler again(d, Split::kTrain, options(block, 0.2));
  const IndexedSampler other_seed(d, Split::kTrain, options(block, 0.2, /*shuffle=*/6));
  std::vector<uint64_t> a, b;
  for (uint64_t k = 0; k < per_epoch; ++k) {
    a.push_back(again.sample_start(k));
    b.push_back(other_seed.sample_start(k));
  }
  EXPECT_EQ(a, e0);
  EXPECT_NE(b, e0);
}

TEST(IndexedSampler, WorksWithoutEndOfDocumentTokensAndWithOneDocument) {
  const IndexedDataset d = make_dataset({50}, /*eod=*/false);
  const IndexedSampler s(d, Split::kTrain, options(7, 0.0));
  EXPECT_EQ(s.samples_per_epoch(), 7u);  // (50 - 1) / 7
  std::vector<int64_t> out(8);
  s.sample(0, out.data());
  const int64_t start = static_cast<int64_t>(s.sample_start(0));
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], start + i);
}

}  // namespace
}  // namespace switchyard::train::data
