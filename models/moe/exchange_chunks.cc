#include "models/moe/exchange_chunks.h"

#include <algorithm>

#include "core/check.h"

namespace switchyard::models {

std::vector<ExchangeChunk> cut_exchange(const comm::ExpertLayout& full, int chunks) {
  SY_CHECK_GE(chunks, 1) << "comm.overlap_chunks must be >= 1";
  const int P = full.size;
  const int64_t E = full.num_experts;
  const int64_t L = full.local_experts();
  const size_t C = static_cast<size_t>(chunks);
  std::vector<std::vector<int64_t>> counts(C, std::vector<int64_t>(full.counts.size(), 0));
  std::vector<std::vector<int64_t>> send_rows(C);
  int64_t send_offset = 0;  // first row of the block (full.rank -> dst) in the send buffer
  for (int src = 0; src < P; ++src) {
    for (int dst = 0; dst < P; ++dst) {
      // Block src -> dst: rows of experts [dst L, (dst + 1) L), in expert order.
      int64_t n = 0;
      for (int64_t l = 0; l < L; ++l) n += full.count(src, dst * L + l);
      for (size_t c = 0; c < C; ++c) {
        const int64_t lo = n * static_cast<int64_t>(c) / chunks;
        const int64_t hi = n * static_cast<int64_t>(c + 1) / chunks;
        // Piece [lo, hi) intersected with each expert's segment of the block.
        int64_t seg = 0;
        for (int64_t l = 0; l < L; ++l) {
          const int64_t e = dst * L + l;
          const int64_t seg_end = seg + full.count(src, e);
          const int64_t a = std::max(seg, lo);
          const int64_t b = std::min(seg_end, hi);
          if (b > a) counts[c][static_cast<size_t>(src * E + e)] = b - a;
          seg = seg_end;
        }
        if (src == full.rank) {
          for (int64_t r = lo; r < hi; ++r) send_rows[c].push_back(send_offset + r);
        }
      }
      if (src == full.rank) send_offset += n;
    }
  }
  std::vector<ExchangeChunk> out(C);
  for (size_t c = 0; c < C; ++c) {
    out[c].experts = comm::expert_layout_from_counts(full.rank, P, std::move(counts[c]));
    out[c].send_rows = std::move(send_rows[c]);
  }
  return out;
}

}  // namespace switchyard::models
