// File: train/data/blend.h
//
// Which dataset each sample of a blend comes from (`data.blend`: several indexed datasets, each
// with a weight), as a pure function of the global sample index, so that data-parallel ranks and
// resumed runs need no state:
//
//   * weights are turned into whole counts per round of R samples (R = 1024 by default):
//     n_k = floor(R w_k / sum w) plus one for the largest remainders, so sum n_k = R and every
//     dataset with a positive weight gets at least one sample a round (a weight below 1/R of
//     the total is rounded up to 1/R);
//   * within a round, the order of datasets is the greedy one of Megatron's blended dataset:
//     position p goes to the dataset whose share so far lags its target the most
//     (argmax_k n_k (p + 1) / R - taken_k, ties to the lower k), so every prefix of a round is
//     as close to the weights as whole samples allow;
//   * global sample j is in round r = j / R at position p = j mod R: dataset pattern[p], its
//     sample r n_k + (samples of k before p in the round). Each dataset's samples are therefore
//     consecutive in its own order (0, 1, 2, ...), none skipped or repeated.
// Memory: R dataset ids and R prefix counts; O(1) per sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::train::data {

struct BlendPick {
  size_t dataset = 0;  // which dataset
  uint64_t index = 0;  // its sample index
};

class BlendSchedule {
 public:
  // ConfigError naming `field` when a weight is negative, not finite, or all are zero, or when
  // there are more datasets than samples in a round.
  BlendSchedule(const std::vector<double>& weights,
                const std::string& field,
                uint32_t round = 1024);

  BlendPick pick(uint64_t j) const;
  // Samples of each dataset per round (sum = round size).
  const std::vector<uint32_t>& counts() const { return counts_; }
  uint32_t round() const { return round_; }

 private:
  uint32_t round_;
  std::vector<uint32_t> counts_;
  std::vector<uint32_t> dataset_at_;  // [round]: the dataset of position p
  std::vector<uint32_t> before_;      // [round]: samples of that dataset before p in the round
};

}  // namespace switchyard::train::data
