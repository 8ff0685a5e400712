#include "comm/a2a/row_blocks.h"

namespace switchyard::comm {

std::vector<int64_t> exclusive_prefix_sum(const std::vector<int64_t>& counts) {
  std::vector<int64_t> offsets(counts.size(), 0);
  int64_t sum = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    offsets[i] = sum;
    sum += counts[i];
  }
  return offsets;
}

}  // namespace switchyard::comm
