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
#include <vector>

#include "train/batch_source.h"
#include "train/data/blend.h"
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
  // One dataset. ConfigError (one line) when a split is empty or shorter than one sample.
  IndexedBatchSource(data::IndexedDataset dataset, const IndexedSourceOptions& options);
  // A blend: sample j comes from dataset pick(j) (train/data/blend.h), in proportion to
  // `weights`; each dataset is split and sampled on its own, as above. The datasets must share
  // a tokenizer (their digests are compared; `field` names the config field in messages).
  IndexedBatchSource(std::vector<data::IndexedDataset> datasets,
                     const std::vector<double>& weights,
                     const IndexedSourceOptions& options,
                     const std::string& field = "data.blend");

  Batch batch(Split split, int64_t index) const override;
  std::string description() const override;

  size_t num_datasets() const { return datasets_.size(); }
  const data::IndexedSampler& sampler(Split split, size_t dataset = 0) const;
  // The global sample index of row `row` (of the whole global batch) of batch `index`.
  uint64_t global_sample(int64_t index, int64_t row) const;
  // The dataset and its sample index of global sample j.
  data::BlendPick pick(uint64_t j) const { return blend_.pick(j); }

 private:
  // Stable addresses: the samplers point to the datasets.
  std::vector<std::unique_ptr<data::IndexedDataset>> datasets_;
  IndexedSourceOptions options_;
  data::BlendSchedule blend_;
  std::vector<std::unique_ptr<data::IndexedSampler>> train_, val_;
};

}  // namespace switchyard::train
