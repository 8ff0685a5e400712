#include "train/data/indexed_sampler.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace switchyard::train::data {
namespace {

// Key tags: the split permutation and each (split, epoch) sample order get distinct keys.
constexpr uint64_t kSplitTag = 0x5350'4c49'5400'0000ULL;   // "SPLIT"
constexpr uint64_t kSampleTag = 0x5341'4d50'4c45'0000ULL;  // "SAMPLE"

const char* split_name(Split split) { return split == Split::kTrain ? "training" : "validation"; }

}  // namespace

uint64_t validation_documents(uint64_t num_documents,
                              double val_fraction,
                              const std::string& field) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) {
    throw ConfigError(field,
                      "validation fraction " + std::to_string(val_fraction) + " is outside [0, 1)");
  }
  if (val_fraction == 0.0) return 0;
  if (num_documents < 2) {
    throw ConfigError(field, "holds " + std::to_string(num_documents) +
                                 " document, which cannot be split into training and "
                                 "validation documents (prepare it from more files, or with "
                                 "documents separated by blank lines)");
  }
  const double wanted = std::nearbyint(val_fraction * static_cast<double>(num_documents));
  uint64_t n_val = wanted < 1.0 ? 1 : static_cast<uint64_t>(wanted);
  if (n_val >= num_documents) n_val = num_documents - 1;
  return n_val;
}

IndexedSampler::IndexedSampler(const IndexedDataset& data,
                               Split split,
                               const SamplerOptions& options)
    : data_(&data),
      split_(split),
      block_size_(options.block_size),
      shuffle_seed_(options.shuffle_seed),
      documents_(data.num_documents(), mix64(options.split_seed ^ kSplitTag)) {
  const std::string name = data.bin_name();
  if (block_size_ < 1) {
    throw ConfigError("model.seq_length", "is " + std::to_string(block_size_) + ", must be >= 1");
  }
  const uint64_t n = data.num_documents();
  const uint64_t n_val = validation_documents(n, options.val_fraction, name);
  first_position_ = split == Split::kTrain ? n_val : 0;
  count_ = split == Split::kTrain ? n - n_val : n_val;
  const uint64_t count = count_;
  if (count == 0) {
    throw ConfigError(name, std::string("has no ") + split_name(split) +
                                " documents (data validation fraction 0)");
  }
  starts_.reserve(count + 1);
  uint64_t at = 0;
  for (uint64_t k = 0; k < count; ++k) {
    starts_.push_back(at);
    at += data.document_length(document(k));
  }
  starts_.push_back(at);
  const auto block = static_cast<uint64_t>(block_size_);
  if (at < block + 1) {
    throw ConfigError(
        name, std::string("the ") + split_name(split) + " split holds " + std::to_string(at) +
                  " tokens in " + std::to_string(count) +
                  " documents, fewer than block_size + 1 = " + std::to_string(block + 1));
  }
  samples_per_epoch_ = (at - 1) / block;
}

uint64_t IndexedSampler::document(uint64_t k) const {
  if (k >= num_documents()) throw InternalError("split document index out of range");
  return documents_.inverse(first_position_ + k);
}

uint64_t IndexedSampler::sample_start(uint64_t j) const {
  const uint64_t epoch = j / samples_per_epoch_;
  const uint64_t key =
      mix64(shuffle_seed_ ^ kSampleTag) ^ mix64(epoch * 2 + (split_ == Split::kTrain ? 0 : 1));
  const Permutation order(samples_per_epoch_, key);
  return order(j % samples_per_epoch_) * static_cast<uint64_t>(block_size_);
}

void IndexedSampler::sample(uint64_t j, int64_t* out) const {
  uint64_t position = sample_start(j);
  uint64_t remaining = static_cast<uint64_t>(block_size_) + 1;
  // The split document holding `position`, then the following ones until the sample is full.
  auto it = std::upper_bound(starts_.begin(), starts_.end(), position);
  uint64_t k = static_cast<uint64_t>(it - starts_.begin()) - 1;
  while (remaining > 0) {
    const uint64_t doc = document(k);
    const uint64_t within = position - starts_[k];
    const uint64_t take = std::min(remaining, starts_[k + 1] - position);
    data_->read_tokens(data_->document_offset(doc) + within, take, out);
    out += take;
    remaining -= take;
    position += take;
    ++k;
  }
}

}  // namespace switchyard::train::data
