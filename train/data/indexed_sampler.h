// File: train/data/indexed_sampler.h
//
// Training samples from an indexed token dataset (indexed_dataset.h), the way Megatron's GPT
// dataset draws them, deterministically from seeds and in memory that grows with the number of
// documents only (8 bytes per document of the split), never with the number of tokens:
//
//   * Split by documents: a permutation of the N documents keyed by `split_seed`
//     (permutation.h) puts the documents at permuted positions [0, N_val) in the validation
//     split and the others in the training split, N_val = round(val_fraction x N) (at least 1
//     when val_fraction > 0; the training split keeps at least 1). A document is never in both,
//     and the same split_seed gives the same split whatever the training seed, so validation
//     losses of runs with different seeds are comparable.
//   * Each split is one stream: its documents in that permuted order, back to back. Every
//     document already ends with the dataset's end-of-document token (when it has one), so the
//     stream holds that token between any two documents, and a document shorter than a block
//     simply shares its sample with its neighbours.
//   * Sample k of an epoch is the block_size + 1 tokens at stream position k x block_size
//     (inputs = the first block_size, targets = the last block_size; consecutive samples share
//     one token), k < S = floor((T_split - 1) / block_size). The last tokens of the stream that
//     fill no whole sample (fewer than block_size) are not used.
//   * Epoch e visits the S samples in the order of a permutation keyed by (shuffle_seed, split,
//     e): global sample j is sample perm_e(j mod S) of epoch e = j / S. Any j can be computed
//     on its own, so data-parallel ranks take disjoint j (e.g. j = step x global_batch +
//     rank x local_batch + i) and a resumed run continues from the saved step exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/data/indexed_dataset.h"
#include "train/data/permutation.h"

namespace switchyard::train::data {

enum class Split { kTrain, kValidation };

struct SamplerOptions {
  int64_t block_size = 0;      // tokens a sample predicts (>= 1); a sample holds block_size + 1
  double val_fraction = 0.1;   // share of documents held out, in [0, 1)
  uint64_t split_seed = 1234;  // which documents are held out: keep it fixed across runs
  uint64_t shuffle_seed = 0;   // the order of samples (the training seed)
};

// Documents in the validation split for `num_documents` documents (ConfigError naming
// `field` when the split cannot be made: fraction outside [0, 1), one document, no training
// document left).
uint64_t validation_documents(uint64_t num_documents,
                              double val_fraction,
                              const std::string& field);

class IndexedSampler {
 public:
  // `data` must outlive the sampler. ConfigError (one line, naming the dataset) when the split
  // is empty or holds fewer than block_size + 1 tokens.
  IndexedSampler(const IndexedDataset& data, Split split, const SamplerOptions& options);

  uint64_t num_documents() const { return count_; }
  uint64_t num_tokens() const { return starts_.back(); }
  uint64_t samples_per_epoch() const { return samples_per_epoch_; }
  int64_t block_size() const { return block_size_; }

  // The dataset index of the split's k-th document in stream order (k < num_documents()).
  uint64_t document(uint64_t k) const;
  // Where global sample j starts in the split's stream, in tokens.
  uint64_t sample_start(uint64_t j) const;
  // Global sample j (any j >= 0): block_size + 1 ids into out[0, block_size].
  void sample(uint64_t j, int64_t* out) const;

 private:
  const IndexedDataset* data_;
  Split split_;
  int64_t block_size_;
  uint64_t shuffle_seed_;
  Permutation documents_;        // permuted position -> document (the inverse gives the split)
  uint64_t first_position_ = 0;  // the split's documents: positions [first, first + count)
  uint64_t count_ = 0;
  std::vector<uint64_t> starts_;  // stream position of each of its documents, then the length
  uint64_t samples_per_epoch_ = 0;
};

}  // namespace switchyard::train::data
