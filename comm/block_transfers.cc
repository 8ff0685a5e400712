#include "comm/block_transfers.h"

#include <algorithm>
#include <string>

#include <c10/util/Exception.h>

namespace switchyard::comm {
namespace {

void check_blocks(const std::vector<BlockTransfer>& blocks,
                  const std::vector<at::Tensor>& buffers,
                  const char* what,
                  int size,
                  const CommErrorContext& ctx) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BlockTransfer& b = blocks[i];
    const std::string name = std::string(what) + "[" + std::to_string(i) + "]";
    if (b.peer < 0 || b.peer >= size) {
      throw CommError(ctx, name + ".peer = " + std::to_string(b.peer) + " is not a rank of " +
                               std::to_string(size));
    }
    if (b.buffer < 0 || b.buffer >= static_cast<int>(buffers.size())) {
      throw CommError(ctx, name + ".buffer = " + std::to_string(b.buffer) + " with " +
                               std::to_string(buffers.size()) + " buffers");
    }
    const int64_t rows = buffers[b.buffer].size(0);
    if (b.rows < 0 || b.offset < 0 || b.offset + b.rows > rows) {
      throw CommError(ctx, name + " rows [" + std::to_string(b.offset) + ", +" +
                               std::to_string(b.rows) + ") outside the buffer's " +
                               std::to_string(rows) + " rows");
    }
  }
}

}  // namespace

int64_t check_block_exchange(const std::vector<at::Tensor>& outs,
                             const std::vector<at::Tensor>& ins,
                             const std::vector<BlockTransfer>& recvs,
                             const std::vector<BlockTransfer>& sends,
                             int rank,
                             int size,
                             const CommErrorContext& ctx) {
  std::vector<at::Tensor> all = ins;
  all.insert(all.end(), outs.begin(), outs.end());
  if (all.empty()) throw CommError(ctx, "no input or output buffer");
  const at::Tensor& first = all.front();
  for (const at::Tensor& t : all) {
    if (!t.defined()) throw CommError(ctx, "a buffer is an undefined tensor");
    if (!t.is_contiguous()) {
      throw CommError(ctx, "a buffer is not contiguous (sizes " + c10::str(t.sizes()) + ")");
    }
    if (t.dim() < 1) throw CommError(ctx, "buffers need a row dim");
    if (t.scalar_type() != first.scalar_type()) {
      throw CommError(ctx, std::string("buffers of different dtypes: ") +
                               c10::toString(t.scalar_type()) + " and " +
                               c10::toString(first.scalar_type()));
    }
    if (t.sizes().slice(1) != first.sizes().slice(1)) {
      throw CommError(ctx, "buffers' trailing dims differ: " + c10::str(t.sizes()) + " vs " +
                               c10::str(first.sizes()));
    }
  }
  check_blocks(sends, ins, "sends", size, ctx);
  check_blocks(recvs, outs, "recvs", size, ctx);
  const std::vector<BlockTransfer> self_send = self_blocks(sends, rank);
  const std::vector<BlockTransfer> self_recv = self_blocks(recvs, rank);
  bool equal = self_send.size() == self_recv.size();
  for (size_t i = 0; equal && i < self_send.size(); ++i) {
    equal = self_send[i].rows == self_recv[i].rows;
  }
  if (!equal) throw CommError(ctx, "the blocks this rank sends to itself and receives differ");
  int64_t row_elems = 1;  // product of the trailing dims
  for (int64_t d = 1; d < first.dim(); ++d) row_elems *= first.size(d);
  return row_elems * static_cast<int64_t>(first.element_size());
}

std::vector<BlockTransfer> blocks_of_counts(const std::vector<int64_t>& counts,
                                            const char* what,
                                            const CommErrorContext& ctx) {
  std::vector<BlockTransfer> blocks;
  blocks.reserve(counts.size());
  int64_t offset = 0;
  for (size_t p = 0; p < counts.size(); ++p) {
    if (counts[p] < 0) {
      throw CommError(ctx, std::string(what) + "[" + std::to_string(p) + "] is negative");
    }
    blocks.push_back({static_cast<int>(p), 0, offset, counts[p]});
    offset += counts[p];
  }
  return blocks;
}

std::vector<BlockTransfer> remote_in_post_order(const std::vector<BlockTransfer>& blocks,
                                                int rank,
                                                int size,
                                                bool receives) {
  std::vector<BlockTransfer> remote;
  for (const BlockTransfer& b : blocks) {
    if (b.peer != rank && b.rows > 0) remote.push_back(b);
  }
  auto distance = [&](const BlockTransfer& b) {
    return receives ? (rank - b.peer + size) % size : (b.peer - rank + size) % size;
  };
  std::stable_sort(
      remote.begin(), remote.end(),
      [&](const BlockTransfer& a, const BlockTransfer& b) { return distance(a) < distance(b); });
  return remote;
}

std::vector<BlockTransfer> self_blocks(const std::vector<BlockTransfer>& blocks, int rank) {
  std::vector<BlockTransfer> self;
  for (const BlockTransfer& b : blocks) {
    if (b.peer == rank && b.rows > 0) self.push_back(b);
  }
  return self;
}

}  // namespace switchyard::comm
