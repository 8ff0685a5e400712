#include "train/indexed_batch_source.h"

#include <ATen/ATen.h>

#include "core/check.h"

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

}  // namespace

IndexedBatchSource::IndexedBatchSource(data::IndexedDataset dataset,
                                       const IndexedSourceOptions& options)
    : dataset_(std::make_unique<data::IndexedDataset>(std::move(dataset))), options_(options) {
  SY_CHECK_GT(options_.world_size, 0);
  SY_CHECK(options_.rank >= 0 && options_.rank < options_.world_size);
  SY_CHECK_GT(options_.global_batch_size, 0);
  SY_CHECK_EQ(options_.global_batch_size % options_.world_size, 0)
      << "the global batch must split evenly over the ranks";
  train_ = std::make_unique<data::IndexedSampler>(*dataset_, data::Split::kTrain,
                                                  sampler_options(options_, true));
  val_ = std::make_unique<data::IndexedSampler>(*dataset_, data::Split::kValidation,
                                                sampler_options(options_, false));
}

const data::IndexedSampler& IndexedBatchSource::sampler(Split split) const {
  return split == Split::kTrain ? *train_ : *val_;
}

uint64_t IndexedBatchSource::global_sample(int64_t index, int64_t row) const {
  SY_CHECK_GE(index, 0);
  SY_CHECK(row >= 0 && row < options_.global_batch_size);
  return static_cast<uint64_t>(index) * static_cast<uint64_t>(options_.global_batch_size) +
         static_cast<uint64_t>(row);
}

Batch IndexedBatchSource::batch(Split split, int64_t index) const {
  const data::IndexedSampler& sampler = this->sampler(split);
  const int64_t b = options_.global_batch_size / options_.world_size;
  const int64_t s = options_.seq_length;
  at::Tensor windows = at::empty({b, s + 1}, at::kLong);  // [B_local, S + 1]
  int64_t* out = windows.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    sampler.sample(global_sample(index, options_.rank * b + i), out + i * (s + 1));
  }
  return Batch{windows.slice(1, 0, s).contiguous(), windows.slice(1, 1, s + 1).contiguous()};
}

std::string IndexedBatchSource::description() const {
  return "indexed dataset " + dataset_->bin_name() + ": " +
         std::to_string(train_->num_documents()) + " training documents (" +
         std::to_string(train_->num_tokens()) + " tokens, " +
         std::to_string(train_->samples_per_epoch()) + " samples an epoch), " +
         std::to_string(val_->num_documents()) + " validation documents (" +
         std::to_string(val_->num_tokens()) + " tokens)";
}

}  // namespace switchyard::train
