#include "train/data/blend.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace switchyard::train::data {

BlendSchedule::BlendSchedule(const std::vector<double>& weights,
                             const std::string& field,
                             uint32_t round)
    : round_(round) {
  if (weights.empty()) throw ConfigError(field, "names no dataset");
  if (weights.size() > round) {
    throw ConfigError(field, "has " + std::to_string(weights.size()) + " datasets, more than the " +
                                 std::to_string(round) + " samples of a blend round");
  }
  double total = 0;
  for (size_t k = 0; k < weights.size(); ++k) {
    if (!std::isfinite(weights[k]) || weights[k] < 0) {
      throw ConfigError(field, "weight " + std::to_string(k) + " is " + std::to_string(weights[k]) +
                                   ", must be finite and >= 0");
    }
    total += weights[k];
  }
  if (!(total > 0)) throw ConfigError(field, "every weight is 0");

  // Whole counts: floors, then the largest remainders; a positive weight gets at least one.
  counts_.assign(weights.size(), 0);
  std::vector<double> remainder(weights.size());
  uint32_t given = 0;
  for (size_t k = 0; k < weights.size(); ++k) {
    const double exact = static_cast<double>(round) * weights[k] / total;
    counts_[k] = static_cast<uint32_t>(std::floor(exact));
    if (weights[k] > 0 && counts_[k] == 0) counts_[k] = 1;
    remainder[k] = exact - std::floor(exact);
    given += counts_[k];
  }
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t i = 0; given < round; i = (i + 1) % order.size()) {
    if (weights[order[i]] > 0) ++counts_[order[i]], ++given;
  }
  // Too many (minimum counts of 1): take back from the largest counts.
  while (given > round) {
    const auto largest = std::max_element(counts_.begin(), counts_.end());
    --*largest, --given;
  }

  // The order within a round: the dataset lagging its share most goes next.
  dataset_at_.resize(round);
  before_.resize(round);
  std::vector<uint32_t> taken(weights.size(), 0);
  for (uint32_t p = 0; p < round; ++p) {
    size_t best = 0;
    double best_lag = -1e300;
    for (size_t k = 0; k < counts_.size(); ++k) {
      if (taken[k] >= counts_[k]) continue;
      const double lag = static_cast<double>(counts_[k]) * (p + 1) / round - taken[k];
      if (lag > best_lag) best = k, best_lag = lag;
    }
    dataset_at_[p] = static_cast<uint32_t>(best);
    before_[p] = taken[best]++;
  }
}

BlendPick BlendSchedule::pick(uint64_t j) const {
  const uint64_t r = j / round_;
  const auto p = static_cast<size_t>(j % round_);
  const uint32_t k = dataset_at_[p];
  return {k, r * counts_[k] + before_[p]};
}

}  // namespace switchyard::train::data
