#include "train/indexed_batch_source.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "core/errors.h"

namespace switchyard::train {
namespace {

data::SamplerOptions sampler_options(const IndexedSourceOptions& o, bool train) {
  data::SamplerOptions s;
  s.block_size = o.seq_length;
  s.val_fraction = o.val_fraction;
  s.split_seed = o.split_seed;
  s.shuffle_seed = train ? o.seed : o.split_seed;
  return s;
}

std::vector<data::IndexedDataset> one(data::IndexedDataset dataset) {
  std::vector<data::IndexedDataset> v;
  v.push_back(std::move(dataset));
  return v;
}

}  // namespace

IndexedBatchSource::IndexedBatchSource(data::IndexedDataset dataset,
                                       const IndexedSourceOptions& options)
    : IndexedBatchSource(one(std::move(dataset)), {1.0}, options) {}

IndexedBatchSource::IndexedBatchSource(std::vector<data::IndexedDataset> datasets,
                                       const std::vector<double>& weights,
                                       const IndexedSourceOptions& options,
                                       const std::string& field)
    : options_(options), blend_(weights, field) {
  SY_CHECK_EQ(datasets.size(), weights.size());
  SY_CHECK_GT(options_.world_size, 0);
  SY_CHECK(options_.rank >= 0 && options_.rank < options_.world_size);
  SY_CHECK_GT(options_.global_batch_size, 0);
  SY_CHECK_EQ(options_.global_batch_size % options_.world_size, 0)
      << "the global batch must split evenly over the ranks";
  const std::string digest = datasets.front().header().tokenizer_digest;
  const std::string first = datasets.front().bin_name();
  for (data::IndexedDataset& d : datasets) {
    if (d.header().tokenizer_digest != digest) {
      throw ConfigError(field, d.bin_name() + " was prepared with tokenizer '" +
                                   d.header().tokenizer_digest + "', " + first + " with '" +
                                   digest + "'");
    }
    datasets_.push_back(std::make_unique<data::IndexedDataset>(std::move(d)));
    train_.push_back(std::make_unique<data::IndexedSampler>(*datasets_.back(), data::Split::kTrain,
                                                            sampler_options(options_, true)));
    val_.push_back(std::make_unique<data::IndexedSampler>(
        *datasets_.back(), data::Split::kValidation, sampler_options(options_, false)));
  }
}

const data::IndexedSampler& IndexedBatchSource::sampler(Split split, size_t dataset) const {
  SY_CHECK_LT(dataset, datasets_.size());
  return split == Split::kTrain ? *train_[dataset] : *val_[dataset];
}

uint64_t IndexedBatchSource::global_sample(int64_t index, int64_t row) const {
  SY_CHECK_GE(index, 0);
  SY_CHECK(row >= 0 && row < options_.global_batch_size);
  return static_cast<uint64_t>(index) * static_cast<uint64_t>(options_.global_batch_size) +
         static_cast<uint64_t>(row);
}

Batch IndexedBatchSource::batch(Split split, int64_t index) const {
  const int64_t b = options_.global_batch_size / options_.world_size;
  const int64_t s = options_.seq_length;
  at::Tensor windows = at::empty({b, s + 1}, at::kLong);  // [B_local, S + 1]
  int64_t* out = windows.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const data::BlendPick p = blend_.pick(global_sample(index, options_.rank * b + i));
    sampler(split, p.dataset).sample(p.index, out + i * (s + 1));
  }
  // [B_local, S] inputs and the targets one token later.
  return Batch{windows.slice(1, 0, s).contiguous(), windows.slice(1, 1, s + 1).contiguous()};
}

std::string IndexedBatchSource::description() const {
  std::string text;
  for (size_t k = 0; k < datasets_.size(); ++k) {
    if (k > 0) text += "; ";
    text += "indexed dataset " + datasets_[k]->bin_name() + ": " +
            std::to_string(train_[k]->num_documents()) + " training documents (" +
            std::to_string(train_[k]->num_tokens()) + " tokens, " +
            std::to_string(train_[k]->samples_per_epoch()) + " samples an epoch), " +
            std::to_string(val_[k]->num_documents()) + " validation documents (" +
            std::to_string(val_[k]->num_tokens()) + " tokens)";
    if (datasets_.size() > 1) {
      text += ", " + std::to_string(blend_.counts()[k]) + "/" + std::to_string(blend_.round()) +
              " of the samples";
    }
  }
  return text;
}

}  // namespace switchyard::train
