// File: train/indexed_batch_source.h
//
// Batches from an indexed token dataset (train/data/indexed_dataset.h, `data.format: INDEXED`),
// memory-mapped: memory grows with the number of documents (the split's offsets), never with
// the number of tokens.
//
// Row r of global batch `index` is global sample j = index x B + r of the split
// (train/data/indexed_sampler.h: documents split by data.split_seed, samples of S + 1 tokens,
// epochs visited in a seeded order). Rank k of W takes rows [k B/W, (k + 1) B/W), so
//   * data-parallel ranks read disjoint samples, and together exactly the global batch;
//   * the global batch is the same at any world size (1 rank and 4 ranks train alike);
//   * the data position is the step: a resumed run continues with the very next samples.
// The training order is keyed by train.seed; the validation order by data.split_seed, so runs of
// different seeds are validated on the same batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/batch_source.h"
#include "train/data/indexed_dataset.h"
#include "train/data/indexed_sampler.h"

namespace switchyard::train {

struct IndexedSourceOptions {
  int64_t global_batch_size = 12;  // rows per step over all ranks
  int64_t seq_length = 64;         // S: a sample holds S + 1 tokens
  double val_fraction = 0.1;       // share of documents held out
  uint64_t split_seed = 1234;      // which documents are held out
  uint64_t seed = 1337;            // the training order
  int rank = 0;                    // data-parallel rank
  int world_size = 1;
};

class IndexedBatchSource final : public BatchSource {
 public:
  // ConfigError (one line) when a split is empty or shorter than one sample.
  IndexedBatchSource(data::IndexedDataset dataset, const IndexedSourceOptions& options);

  Batch batch(Split split, int64_t index) const override;
  std::string description() const override;

  const data::IndexedSampler& sampler(Split split) const;
  // The global sample index of row `row` (of the whole global batch) of batch `index`.
  uint64_t global_sample(int64_t index, int64_t row) const;

 private:
  std::unique_ptr<data::IndexedDataset> dataset_;  // stable address: the samplers point to it
  IndexedSourceOptions options_;
  std::unique_ptr<data::IndexedSampler> train_, val_;
};

}  // namespace switchyard::train
