// File: comm/a2a/row_blocks.h (internal to comm/)
//
// Offset-table-driven row-block copies: the "stride copies" of the hierarchical and leader
// all-to-all generalized to variable block sizes (ALGORITHMS.md §8.4).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::comm {

// One block of rows of the source tensor: rows [offset, offset + rows).
struct RowBlock {
  int64_t offset = 0;
  int64_t rows = 0;
};

// Prefix sums: offsets[i] = sum(counts[0..i)). [counts.size()]
std::vector<int64_t> exclusive_prefix_sum(const std::vector<int64_t>& counts);

// Returns [sum(blocks.rows), ...] = the blocks of `src` ([R, ...], contiguous) concatenated in
// the given order (memcpy per block on CPU, at::cat of views on a device).
at::Tensor gather_row_blocks(const at::Tensor& src, const std::vector<RowBlock>& blocks);

// The reorder between the phases of a two-level exchange: `src` ([sum(sizes), ...], contiguous)
// holds outer x inner blocks in [o][i] order, block (o, i) having sizes[o * inner + i] rows;
// returns them in [i][o] order. Returns `src` itself when outer or inner is 1 (nothing moves).
at::Tensor transpose_row_blocks(const at::Tensor& src,
                                const std::vector<int64_t>& sizes,
                                int outer,
                                int inner);

}  // namespace switchyard::comm
