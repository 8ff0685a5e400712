#include "comm/a2a/expert_layout.h"

#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::comm {

ExpertLayout expert_layout_from_counts(int rank, int size, std::vector<int64_t> counts) {
  SY_CHECK(size > 0 && rank >= 0 && rank < size) << "EP rank " << rank << " of " << size;
  SY_CHECK_EQ(counts.size() % static_cast<size_t>(size), 0u) << "counts must be [P * E]";
  ExpertLayout el;
  el.rank = rank;
  el.size = size;
  el.num_experts = static_cast<int64_t>(counts.size()) / size;
  SY_CHECK_EQ(el.num_experts % size, 0) << "num_experts must be a multiple of the EP size";
  el.counts = std::move(counts);
  const int64_t local = el.local_experts();
  // [P * P] src -> dst rows: each source's counts summed over the destination's experts.
  std::vector<int64_t> matrix(static_cast<size_t>(size) * size, 0);
  for (int src = 0; src < size; ++src) {
    for (int64_t e = 0; e < el.num_experts; ++e) {
      matrix[static_cast<size_t>(src) * size + e / local] += el.count(src, e);
    }
  }
  el.layout = AllToAllLayout::from_agreed_count_matrix(rank, size, std::move(matrix));
  return el;
}

ExpertLayout exchange_expert_counts(Communicator& host,
                                    const std::vector<int64_t>& tokens_per_expert) {
  SY_CHECK(!tokens_per_expert.empty()) << "no experts";
  // [E] per rank -> [P * E], the same matrix on every rank.
  return expert_layout_from_counts(host.rank(), host.size(), all_gather(host, tokens_per_expert));
}

std::vector<int64_t> ExpertLayout::rows_per_local_expert() const {
  const int64_t local = local_experts();
  std::vector<int64_t> rows(static_cast<size_t>(local), 0);
  for (int src = 0; src < size; ++src) {
    for (int64_t l = 0; l < local; ++l)
      rows[static_cast<size_t>(l)] += count(src, rank * local + l);
  }
  return rows;
}

std::vector<int64_t> ExpertLayout::expert_major_order() const {
  const int64_t local = local_experts();
  // start[src * L + l]: first received row of (source src, local expert l). Received rows are
  // grouped by source, and each source sends its rows for this rank's experts in expert order.
  std::vector<int64_t> start(static_cast<size_t>(size * local), 0);
  int64_t row = 0;
  for (int src = 0; src < size; ++src) {
    for (int64_t l = 0; l < local; ++l) {
      start[static_cast<size_t>(src * local + l)] = row;
      row += count(src, rank * local + l);
    }
  }
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(row));
  for (int64_t l = 0; l < local; ++l) {
    for (int src = 0; src < size; ++src) {
      const int64_t first = start[static_cast<size_t>(src * local + l)];
      const int64_t n = count(src, rank * local + l);
      for (int64_t i = 0; i < n; ++i) order.push_back(first + i);
    }
  }
  return order;
}

}  // namespace switchyard::comm
