// File: comm/block_transfers.h (internal to comm/: the backends' side of exchange_blocks)
//
// What every backend's Communicator::exchange_blocks (and the all-to-all built on it) shares:
// argument checks with one-line CommErrors, the one-block-per-peer lists of a variable-size
// all-to-all, and the order in which blocks are posted.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/comm_error.h"
#include "comm/types.h"

namespace switchyard::comm {

// Checks an exchange_blocks call of rank `rank` in a group of `size`: at least one tensor; every
// tensor defined and contiguous, one dtype, equal trailing dims; each block's peer, buffer and
// row range valid; the self sends and self receives pairwise equal in rows. Returns the row size
// in bytes. Throws CommError(ctx, reason) otherwise. (Device placement is the backend's check.)
int64_t check_block_exchange(const std::vector<at::Tensor>& outs,
                             const std::vector<at::Tensor>& ins,
                             const std::vector<BlockTransfer>& recvs,
                             const std::vector<BlockTransfer>& sends,
                             int rank,
                             int size,
                             const CommErrorContext& ctx);

// One block per peer, in rank order at prefix-sum offsets of buffer 0: the blocks of a
// variable-size all-to-all with these row counts. Negative counts: CommError naming `what`.
std::vector<BlockTransfer> blocks_of_counts(const std::vector<int64_t>& counts,
                                            const char* what,
                                            const CommErrorContext& ctx);

// The non-empty blocks to or from other ranks, stably ordered by peer distance: receives from
// the previous rank first, sends to the next rank first (every rank starts with a different
// peer, so no rank is everybody's first peer). Per-peer block order is kept.
std::vector<BlockTransfer> remote_in_post_order(const std::vector<BlockTransfer>& blocks,
                                                int rank,
                                                int size,
                                                bool receives);

// The non-empty self blocks, in order: the k-th send is copied into the k-th receive.
std::vector<BlockTransfer> self_blocks(const std::vector<BlockTransfer>& blocks, int rank);

}  // namespace switchyard::comm
