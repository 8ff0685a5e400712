// File: comm/a2a/expert_layout.h
//
// ExpertLayout: the agreed token counts of one MoE layer-step over an expert-parallel group, and
// the all-to-all layout every exchange of that layer-step uses (dispatch forward, combine
// forward, and both again transposed in backward).
//
//   ExpertLayout el = exchange_expert_counts(*groups.host_expert, tokens_per_expert);  // 1 gather
//   at::Tensor received = all_to_all_autograd(a2a, rows, el.layout);                  // dispatch
//   at::Tensor back = all_to_all_autograd(a2a, out, el.layout.transposed());          // combine
//
// One small collective: an all-gather of every rank's per-expert counts ([E] int64 each). Every
// rank then holds the same [P, E] matrix, so the layout is agreed by construction and the
// strategies skip their verification all-gather (AllToAllLayout::agreed()). Experts are laid out
// contiguously: EP rank p holds experts [p * L, (p + 1) * L), L = E / P.
#pragma once

#include <cstdint>
#include <vector>

#include "comm/all_to_all.h"
#include "comm/communicator.h"

namespace switchyard::comm {

struct ExpertLayout {
  int rank = 0;                 // this rank in the EP group
  int size = 1;                 // P
  int64_t num_experts = 0;      // E
  std::vector<int64_t> counts;  // [P * E]: counts[src * E + e] = rows EP rank src sends to e
  AllToAllLayout layout;        // rank -> rank rows (sum over each rank's experts); agreed

  int64_t local_experts() const { return size > 0 ? num_experts / size : 0; }
  int64_t count(int src, int64_t expert) const {
    return counts[static_cast<size_t>(src) * num_experts + expert];
  }
  // [L]: rows this rank's local experts receive, summed over sources.
  std::vector<int64_t> rows_per_local_expert() const;
  // [R]: for the received rows (grouped by source rank, each source's rows by local expert), the
  // received row index of each row in (local expert, source) order: the order the experts run in.
  std::vector<int64_t> expert_major_order() const;
};

// Collective over `host` (the EP group's host communicator): one all-gather.
// tokens_per_expert: [E] rows this rank sends to each expert; E must be a multiple of P.
ExpertLayout exchange_expert_counts(Communicator& host,
                                    const std::vector<int64_t>& tokens_per_expert);

// The same from a count matrix every rank already holds ([P * E], e.g. a single-process test).
// Not collective. The caller guarantees that every rank passes the same matrix.
ExpertLayout expert_layout_from_counts(int rank, int size, std::vector<int64_t> counts);

}  // namespace switchyard::comm
