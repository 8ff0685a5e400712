#include "comm/all_to_all.h"

#include <ATen/ATen.h>

#include "comm/communicator.h"
#include "core/check.h"

namespace switchyard::comm {

AllToAllLayout::AllToAllLayout() : send_counts_{0}, recv_counts_{0}, count_matrix_{0} {
  agreed_ = true;
}

void AllToAllLayout::finish_init() {
  SY_CHECK(rank_ >= 0 && rank_ < size_) << "layout rank " << rank_ << " of size " << size_;
  SY_CHECK_EQ(static_cast<int>(send_counts_.size()), size_) << "send_counts size";
  SY_CHECK_EQ(static_cast<int>(recv_counts_.size()), size_) << "recv_counts size";
  total_send_ = 0;
  total_recv_ = 0;
  for (int p = 0; p < size_; ++p) {
    SY_CHECK(send_counts_[p] >= 0 && recv_counts_[p] >= 0) << "negative count for peer " << p;
    total_send_ += send_counts_[p];
    total_recv_ += recv_counts_[p];
  }
}

AllToAllLayout AllToAllLayout::from_count_matrix(int rank,
                                                 int size,
                                                 std::vector<int64_t> count_matrix) {
  SY_CHECK(size > 0) << "layout size " << size;
  SY_CHECK_EQ(static_cast<int64_t>(count_matrix.size()), int64_t{size} * size)
      << "count matrix must be [size * size]";
  AllToAllLayout layout;
  layout.rank_ = rank;
  layout.size_ = size;
  layout.count_matrix_ = std::move(count_matrix);
  layout.send_counts_.assign(size, 0);
  layout.recv_counts_.assign(size, 0);
  for (int p = 0; p < size; ++p) {
    layout.send_counts_[p] = layout.count_matrix_[static_cast<size_t>(rank) * size + p];
    layout.recv_counts_[p] = layout.count_matrix_[static_cast<size_t>(p) * size + rank];
  }
  layout.agreed_ = false;
  layout.finish_init();
  return layout;
}

AllToAllLayout AllToAllLayout::from_agreed_count_matrix(int rank,
                                                        int size,
                                                        std::vector<int64_t> count_matrix) {
  AllToAllLayout layout = from_count_matrix(rank, size, std::move(count_matrix));
  layout.agreed_ = true;
  return layout;
}

AllToAllLayout AllToAllLayout::from_counts(int rank,
                                           std::vector<int64_t> send_counts,
                                           std::vector<int64_t> recv_counts) {
  AllToAllLayout layout;
  layout.rank_ = rank;
  layout.size_ = static_cast<int>(send_counts.size());
  layout.send_counts_ = std::move(send_counts);
  layout.recv_counts_ = std::move(recv_counts);
  layout.count_matrix_.clear();
  layout.agreed_ = false;
  layout.finish_init();
  return layout;
}

AllToAllLayout AllToAllLayout::exchange_counts(Communicator& group,
                                               const std::vector<int64_t>& send_counts,
                                               std::chrono::milliseconds timeout,
                                               at::Device device) {
  const int size = group.size();
  SY_CHECK_EQ(static_cast<int>(send_counts.size()), size)
      << "send_counts needs one entry per rank of group '" << group.name() << "'";
  at::Tensor mine = at::tensor(send_counts, at::kLong).to(device);  // [size], on `device`
  at::Tensor all = at::empty({int64_t{size} * size},
                             at::TensorOptions().dtype(at::kLong).device(device));  // [size * size]
  AllGatherOptions options;
  options.timeout = timeout;
  group.all_gather(all, mine, options)->wait();  // host sync
  all = all.cpu();                               // src-major count matrix
  const int64_t* data = all.data_ptr<int64_t>();
  return from_agreed_count_matrix(group.rank(), size,
                                  std::vector<int64_t>(data, data + all.numel()));
}

int64_t AllToAllLayout::count(int src, int dst) const {
  SY_CHECK(!count_matrix_.empty()) << "layout has no count matrix (built by from_counts)";
  return count_matrix_[static_cast<size_t>(src) * size_ + dst];
}

AllToAllLayout AllToAllLayout::transposed() const {
  AllToAllLayout t = *this;
  std::swap(t.send_counts_, t.recv_counts_);
  std::swap(t.total_send_, t.total_recv_);
  if (!count_matrix_.empty()) {
    for (int s = 0; s < size_; ++s) {
      for (int d = 0; d < size_; ++d) {
        t.count_matrix_[static_cast<size_t>(d) * size_ + s] =
            count_matrix_[static_cast<size_t>(s) * size_ + d];
      }
    }
  }
  return t;
}

uint64_t AllToAllLayout::fingerprint() const {
  if (count_matrix_.empty()) return 0;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the counts
  for (int64_t c : count_matrix_) {
    for (int b = 0; b < 8; ++b) {
      h ^= static_cast<uint64_t>(c >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return h | 1;  // never 0 (0 means "no matrix")
}

std::string_view algorithm_name(AllToAllAlgorithm algorithm) {
  switch (algorithm) {
    case AllToAllAlgorithm::kFlat:
      return "flat";
    case AllToAllAlgorithm::kHierarchical:
      return "hierarchical";
    case AllToAllAlgorithm::kLeader:
      return "leader";
    case AllToAllAlgorithm::kInterFirst:
      return "inter_first";
  }
  return "?";
}

}  // namespace switchyard::comm
