#include "comm/a2a/two_level_all_to_all.h"

#include "comm/a2a/layout_check.h"

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

}  // namespace switchyard::comm
