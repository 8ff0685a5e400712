// File: comm/a2a/row_blocks.h (internal to comm/)
//
// Row offsets of blocks laid out one after another: the offset tables the two-level all-to-alls
// build their Communicator::exchange_blocks lists from (ALGORITHMS.md §8.4).
#pragma once

#include <cstdint>
#include <vector>

namespace switchyard::comm {

// Prefix sums: offsets[i] = sum(counts[0..i)). [counts.size()]
std::vector<int64_t> exclusive_prefix_sum(const std::vector<int64_t>& counts);

}  // namespace switchyard::comm
