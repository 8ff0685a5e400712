#include "train/batch_source.h"

namespace switchyard::train {

CorpusBatchSource::CorpusBatchSource(Corpus corpus, const SamplerOptions& options)
    : corpus_(std::move(corpus)), sampler_(options) {}

Batch CorpusBatchSource::batch(Split split, int64_t index) const {
  return sampler_.batch(split, index, split == Split::kTrain ? corpus_.train : corpus_.val);
}

std::string CorpusBatchSource::description() const {
  return "in-memory corpus: " + std::to_string(corpus_.train.numel()) + " training and " +
         std::to_string(corpus_.val.numel()) + " validation tokens";
}

}  // namespace switchyard::train
