#include "comm/a2a/row_blocks.h"

#include <ATen/ATen.h>

#include <cstring>

#include "core/check.h"

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

at::Tensor gather_row_blocks(const at::Tensor& src, const std::vector<RowBlock>& blocks) {
  SY_CHECK(src.is_contiguous()) << "row blocks need a contiguous tensor";
  if (!src.device().is_cpu()) {  // device tensors: one copy kernel per block
    std::vector<at::Tensor> parts;
    for (const RowBlock& b : blocks) parts.push_back(src.narrow(0, b.offset, b.rows));
    if (parts.empty()) return src.narrow(0, 0, 0).clone();
    return at::cat(parts);
  }
  int64_t total = 0;
  for (const RowBlock& b : blocks) total += b.rows;
  std::vector<int64_t> sizes = src.sizes().vec();
  sizes[0] = total;
  at::Tensor out = at::empty(sizes, src.options());  // [total, ...]
  const int64_t row_bytes =
      src.size(0) > 0 ? src.numel() / src.size(0) * static_cast<int64_t>(src.element_size()) : 0;
  if (total == 0 || row_bytes == 0) return out;
  const auto* in = static_cast<const char*>(src.data_ptr());
  auto* dst = static_cast<char*>(out.data_ptr());
  for (const RowBlock& b : blocks) {
    if (b.rows == 0) continue;
    SY_CHECK(b.offset >= 0 && b.offset + b.rows <= src.size(0))
        << "row block [" << b.offset << ", +" << b.rows << ") outside " << src.size(0) << " rows";
    std::memcpy(dst, in + b.offset * row_bytes, static_cast<size_t>(b.rows * row_bytes));
    dst += b.rows * row_bytes;
  }
  return out;
}

at::Tensor transpose_row_blocks(const at::Tensor& src,
                                const std::vector<int64_t>& sizes,
                                int outer,
                                int inner) {
  SY_CHECK_EQ(static_cast<int64_t>(sizes.size()), static_cast<int64_t>(outer) * inner)
      << "one size per block";
  if (outer == 1 || inner == 1) return src;
  const std::vector<int64_t> offsets = exclusive_prefix_sum(sizes);
  std::vector<RowBlock> blocks;
  blocks.reserve(sizes.size());
  for (int i = 0; i < inner; ++i) {
    for (int o = 0; o < outer; ++o) {
      const size_t k = static_cast<size_t>(o) * inner + i;
      blocks.push_back({offsets[k], sizes[k]});
    }
  }
  return gather_row_blocks(src, blocks);
}

}  // namespace switchyard::comm
