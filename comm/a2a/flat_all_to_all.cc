#include "comm/a2a/flat_all_to_all.h"

#include <ATen/ATen.h>

#include "comm/a2a/exchange_messages.h"
#include "comm/a2a/exchange_rows.h"
#include "comm/a2a/layout_check.h"
#include "core/check.h"

namespace switchyard::comm {

FlatAllToAll::FlatAllToAll(std::shared_ptr<Communicator> group,
                           std::vector<int> node_of,
                           AllToAllStrategyOptions options)
    : group_(std::move(group)), node_of_(std::move(node_of)), options_(options) {
  SY_CHECK(group_ != nullptr) << "flat all-to-all needs a group";
  SY_CHECK_EQ(static_cast<int>(node_of_.size()), group_->size())
      << "node_of needs one entry per rank";
}

int FlatAllToAll::group_size() const { return group_->size(); }
int FlatAllToAll::group_rank() const { return group_->rank(); }

at::Tensor FlatAllToAll::exchange(const at::Tensor& input, const AllToAllLayout& layout) {
  check_layout_for_exchange(*group_, layout, input, name(), options_, /*need_count_matrix=*/false);
  const int64_t bytes = row_bytes(input);
  for (const TrafficCounters& t : flat_exchange_messages(layout, node_of_, bytes)) traffic_ += t;
  ++traffic_.exchanges;
  // [total_send, ...] grouped by destination -> [total_recv, ...] grouped by source
  at::Tensor out = exchange_rows(*group_, input, layout.send_counts(), layout.recv_counts(),
                                 options_.timeout, &output_);
  return group_->size() == 1 ? out.clone() : out;
}

}  // namespace switchyard::comm
