#include "comm/a2a/two_level_all_to_all.h"

#include "comm/a2a/layout_check.h"
#include "comm/a2a/row_blocks.h"

namespace switchyard::comm {

TwoLevelAllToAll::TwoLevelAllToAll(std::string_view strategy,
                                   std::shared_ptr<Communicator> group,
                                   std::shared_ptr<Communicator> intra_node,
                                   std::shared_ptr<Communicator> inter_node,
                                   AllToAllStrategyOptions options)
    : group_(std::move(group)),
      intra_(std::move(intra_node)),
      inter_(std::move(inter_node)),
      options_(options) {
  check_node_contiguous(group_.get(), intra_.get(), inter_.get(), strategy);
  ranks_per_node_ = intra_->size();
  num_nodes_ = inter_->size();
}

void TwoLevelAllToAll::check_layout(const at::Tensor& input, const AllToAllLayout& layout) {
  check_layout_for_exchange(*group_, layout, input, name(), options_, /*need_count_matrix=*/true);
}

TwoLevelAllToAll::BlockOffsets TwoLevelAllToAll::block_offsets(const AllToAllLayout& layout) {
  return {exclusive_prefix_sum(layout.send_counts()), exclusive_prefix_sum(layout.recv_counts())};
}

std::vector<int64_t> TwoLevelAllToAll::grid_offsets(int outer,
                                                    int inner,
                                                    const std::function<bool(int, int)>& skip,
                                                    const std::function<int64_t(int, int)>& rows,
                                                    int64_t* total) {
  std::vector<int64_t> offsets(static_cast<size_t>(outer) * inner, 0);
  int64_t sum = 0;
  for (int o = 0; o < outer; ++o) {
    for (int i = 0; i < inner; ++i) {
      if (skip(o, i)) continue;
      offsets[static_cast<size_t>(o) * inner + i] = sum;
      sum += rows(o, i);
    }
  }
  *total = sum;
  return offsets;
}

at::Tensor TwoLevelAllToAll::rows_like(ReusableBuffer& buffer,
                                       const at::Tensor& like,
                                       int64_t rows) {
  std::vector<int64_t> sizes = like.sizes().vec();
  sizes[0] = rows;
  return buffer.get(sizes, like.options());  // [rows, ...]
}

}  // namespace switchyard::comm
