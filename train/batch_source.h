// File: train/batch_source.h
//
// Where the trainer's batches come from. A source hands every rank its rows of global batch
// `index` of a split (training: index = step; validation: index = evaluation batch), as a pure
// function of (seed, split, index): the global batch does not depend on the world size, ranks
// never communicate to agree on data, and the data position of a checkpoint is its step.
// Implementations:
//   * CorpusBatchSource (here): a corpus held in memory (TEXT, TOKENS_U16), random windows
//     (batch_sampler.h);
//   * IndexedBatchSource (indexed_batch_source.h): a memory-mapped indexed token dataset.
#pragma once

#include <cstdint>
#include <string>

#include "train/batch_sampler.h"
#include "train/corpus.h"

namespace switchyard::train {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // This rank's rows of global batch `index` of `split`: inputs and targets [B_local, S] int64.
  virtual Batch batch(Split split, int64_t index) const = 0;
  // One line for the log: what is read and how much of it.
  virtual std::string description() const = 0;
};

// An in-memory corpus split into a training head and a validation tail.
class CorpusBatchSource final : public BatchSource {
 public:
  CorpusBatchSource(Corpus corpus, const SamplerOptions& options);
  Batch batch(Split split, int64_t index) const override;
  std::string description() const override;

 private:
  Corpus corpus_;
  BatchSampler sampler_;
};

}  // namespace switchyard::train
