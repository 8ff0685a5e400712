// Fuzz target: the indexed token dataset reader (train/data/indexed_format.h,
// indexed_dataset.h) and the sampler over it (indexed_sampler.h).
// Input: byte 0 = flags (bit 0: expect vocabulary 1000, bit 1: expect tokenizer digest "byte",
// bit 2: the model's vocabulary may be larger), bytes 1-4 = little-endian uint32 length L of the
// .idx, then L bytes of .idx (fewer if the input ends), then the .bin.
// Properties: bad input is a one-line ConfigError; an accepted index describes documents that
// partition the .bin exactly, meets the expectations, and every id read (documents, samples of
// both splits at two block sizes) is below the vocabulary or refused with one line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"
#include "tests/fuzz/fuzz_util.h"
#include "train/data/indexed_dataset.h"
#include "train/data/indexed_sampler.h"

namespace sy = switchyard;
namespace data = switchyard::train::data;

namespace {

// Reads ids [begin, begin + n) or takes the refusal; returns whether they were read.
bool read_checked(const data::IndexedDataset& d, uint64_t begin, uint64_t n, int64_t* out) {
  try {
    d.read_tokens(begin, n, out);
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
    return false;
  }
  for (uint64_t i = 0; i < n; ++i) {
    sy::fuzz::require(out[i] >= 0 && static_cast<uint64_t>(out[i]) < d.vocab_size(),
                      "id outside the vocabulary read");
  }
  return true;
}

void check_sampler(const data::IndexedDataset& d, data::Split split, int64_t block, double val) {
  data::SamplerOptions o;
  o.block_size = block;
  o.val_fraction = val;
  o.split_seed = 3;
  o.shuffle_seed = 4;
  try {
    const data::IndexedSampler s(d, split, o);
    sy::fuzz::require(s.num_documents() >= 1 && s.num_documents() <= d.num_documents(),
                      "split document count");
    sy::fuzz::require(s.samples_per_epoch() >= 1, "no sample in an accepted split");
    std::vector<int64_t> out(static_cast<size_t>(block) + 2, -7);
    const uint64_t per_epoch = s.samples_per_epoch();
    for (const uint64_t j :
         {uint64_t{0}, uint64_t{1}, per_epoch - 1, per_epoch, 3 * per_epoch + 2}) {
      sy::fuzz::require(s.sample_start(j) + block + 1 <= s.num_tokens(), "sample past the split");
      try {
        s.sample(j, out.data());
      } catch (const sy::ConfigError& e) {
        sy::fuzz::check_refusal(e);
        continue;
      }
      sy::fuzz::require(out[static_cast<size_t>(block) + 1] == -7, "sample wrote past its end");
      for (int64_t i = 0; i <= block; ++i) {
        sy::fuzz::require(out[static_cast<size_t>(i)] >= 0 &&
                              static_cast<uint64_t>(out[static_cast<size_t>(i)]) < d.vocab_size(),
                          "sampled id outside the vocabulary");
      }
    }
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 5) return 0;
  data::IndexExpectations expect;
  if (bytes[0] & 1) expect.vocab_size = 1000;
  if (bytes[0] & 2) expect.tokenizer_digest = "byte";
  expect.vocab_may_be_smaller = (bytes[0] & 4) != 0;
  const uint32_t declared = data::load_u32(bytes + 1);
  const size_t idx_size = std::min<size_t>(declared, size - 5);
  const std::string idx(reinterpret_cast<const char*>(bytes) + 5, idx_size);
  const std::string bin(reinterpret_cast<const char*>(bytes) + 5 + idx_size, size - 5 - idx_size);
  try {
    const data::IndexedDataset d = data::IndexedDataset::from_bytes(idx, bin, "in", expect);
    const data::IndexHeader& h = d.header();
    sy::fuzz::require(h.num_documents >= 1, "no documents accepted");
    sy::fuzz::require(bin.size() == h.num_tokens * data::dtype_bytes(h.dtype), ".bin size");
    sy::fuzz::require(idx.size() == data::kIndexHeaderBytes + 8 * (h.num_documents + 1),
                      ".idx size");
    sy::fuzz::require(h.eod_id >= -1 && h.eod_id < static_cast<int64_t>(h.vocab_size), "eod id");
    if (expect.vocab_size != 0) {
      sy::fuzz::require(expect.vocab_may_be_smaller ? h.vocab_size <= 1000 : h.vocab_size == 1000,
                        "vocabulary expectation not enforced");
    }
    if (!expect.tokenizer_digest.empty()) {
      sy::fuzz::require(h.tokenizer_digest == "byte", "digest expectation not enforced");
    }
    uint64_t covered = 0;
    std::vector<int64_t> ids;
    for (uint64_t i = 0; i < d.num_documents() && i < 512; ++i) {
      const uint64_t begin = d.document_offset(i), length = d.document_length(i);
      sy::fuzz::require(begin == covered && length >= 1, "documents do not partition the tokens");
      covered += length;
      const data::TokenSpan span = d.document(i);
      sy::fuzz::require(span.size() == length, "span length");
      ids.assign(static_cast<size_t>(length), -7);
      if (read_checked(d, begin, length, ids.data())) {
        for (uint64_t k = 0; k < length; ++k) {
          sy::fuzz::require(static_cast<int64_t>(span[k]) == ids[static_cast<size_t>(k)],
                            "span and read_tokens disagree");
        }
      }
    }
    if (d.num_documents() <= 512) sy::fuzz::require(covered == d.num_tokens(), "token count");
    for (const int64_t block : {1, 5}) {
      check_sampler(d, data::Split::kTrain, block, 0.0);
      check_sampler(d, data::Split::kTrain, block, 0.5);
      check_sampler(d, data::Split::kValidation, block, 0.5);
    }
  } catch (const sy::ConfigError& e) {
    sy::fuzz::check_refusal(e);
  }
  return 0;
}
