// File: models/moe/exchange_chunks.h
//
// ExchangeChunks: one MoE layer-step's token exchange cut into C chunks, so that the exchange of
// one chunk can run while the experts compute another (comm.overlap_chunks, docs/overlap.md).
//
// Cut: every block of rows one EP rank sends to another (count(src, dst) rows, sorted by the
// destination's local expert) is cut into C contiguous pieces, piece c = block rows
// [n c / C, n (c + 1) / C). Chunk c is the exchange of every block's piece c. Each piece keeps its
// rows' expert order, so chunk c is itself an expert exchange with per-(source, expert) counts,
// and its layout is agreed on every rank by construction (each rank cuts the same agreed [P, E]
// matrix the same way): no collective is needed.
//
// Pure (no communication); every rank computes the same chunks from the same ExpertLayout.
#pragma once

#include <cstdint>
#include <vector>

#include "comm/a2a/expert_layout.h"

namespace switchyard::models {

struct ExchangeChunk {
  // The chunk as an expert exchange: counts [P * E] of this chunk only; layout agreed.
  comm::ExpertLayout experts;
  // [N_c]: rows of this rank's full send buffer ([N, H], grouped by destination rank, each
  // destination's rows by expert) that chunk c sends, in the chunk's send order.
  std::vector<int64_t> send_rows;
};

// chunks >= 1. Chunk c of every (src, dst) block holds rows [n c / C, n (c + 1) / C).
std::vector<ExchangeChunk> cut_exchange(const comm::ExpertLayout& full, int chunks);

}  // namespace switchyard::models
