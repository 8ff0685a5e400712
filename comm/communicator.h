// File: comm/communicator.h
//
// Communicator: the backend-independent collective interface (MPI on CPU tensors, NCCL on device
// buffers). Small and pure virtual: a backend that misses an operation does not compile.
//
// Contract:
//   * Every method is collective: all ranks of the communicator call it, in the same order, with
//     matching arguments (same dtype, same element counts where they must agree). Each call gets
//     the next per-communicator sequence number; errors and timeouts report it.
//   * Operations are asynchronous: they return a Work; tensors must not be touched until
//     Work::wait() returns. The Work keeps its tensors alive.
//   * Tensors must be contiguous and of a supported dtype (float32, bfloat16, float64, int64,
//     int32); anything else is rejected with CommError before any communication.
//   * Threading: one thread at a time per communicator (ops are ordered by the caller).
//   * After a timeout with TimeoutAction::kThrow the communicator is broken: every later call
//     throws CommError. Build a new one (in practice: end the job).
//   * Ownership: communicators are shared (std::shared_ptr); a communicator made by split()
//     is independent of its parent and may outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/types.h"
#include "comm/work.h"

namespace switchyard::comm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "mpi" or "nccl".
  virtual std::string_view backend_name() const = 0;
  // The peer-group name used in error messages ("world", "expert", "intra_node", ...).
  virtual const std::string& name() const = 0;
  // Timeout applied to operations whose options leave it unset.
  virtual std::chrono::milliseconds timeout() const = 0;

  // In place: tensor = op over all ranks of tensor. Any shape; same numel on every rank.
  virtual std::shared_ptr<Work> all_reduce(at::Tensor& tensor,
                                           const AllReduceOptions& options = {}) = 0;

  // out: [size() * in.size(0), ...] = the ranks' `in` concatenated in rank order along dim 0.
  // `in` has the same shape on every rank; out is preallocated by the caller.
  virtual std::shared_ptr<Work> all_gather(at::Tensor& out,
                                           const at::Tensor& in,
                                           const AllGatherOptions& options = {}) = 0;

  // Variable-size all-to-all over rows (dim 0).
  //   in:  [sum(send_counts), ...] rows grouped by destination rank (send_counts[p] rows to p)
  //   out: [sum(recv_counts), ...] rows grouped by source rank (recv_counts[p] rows from p)
  // Trailing dims equal on every rank. recv_counts[p] on this rank must equal send_counts[me]
  // on rank p; the backend does not check that (see AllToAllLayout for the checked path).
  virtual std::shared_ptr<Work> all_to_all(at::Tensor& out,
                                           const at::Tensor& in,
                                           const std::vector<int64_t>& recv_counts,
                                           const std::vector<int64_t>& send_counts,
                                           const AllToAllOptions& options = {}) = 0;

  // Point-to-point row blocks: the all-to-all generalized to several blocks per peer at any row
  // offsets of several buffers, so that a multi-phase exchange sends straight from where its rows
  // are and receives straight into where they go, with no reordering copies.
  //   ins / outs: contiguous tensors, one dtype, equal trailing dims (rows = dim 0).
  //   sends / recvs: blocks; buffer indexes ins (sends) or outs (recvs).
  // Blocks match in order per pair: the k-th non-empty block this rank sends to p is the k-th
  // non-empty block p receives from this rank, with the same number of rows (the caller derives
  // both sides from one agreed count matrix; the backend does not check across ranks). Blocks to
  // this rank itself are copied, the k-th self send into the k-th self receive. Empty blocks are
  // skipped. A rank with nothing to send or receive still calls it (collective contract).
  virtual std::shared_ptr<Work> exchange_blocks(const std::vector<at::Tensor>& outs,
                                                const std::vector<at::Tensor>& ins,
                                                const std::vector<BlockTransfer>& recvs,
                                                const std::vector<BlockTransfer>& sends,
                                                const AllToAllOptions& options = {}) = 0;

  // tensor on every rank = tensor on `root`.
  virtual std::shared_ptr<Work> broadcast(at::Tensor& tensor,
                                          int root,
                                          const BroadcastOptions& options = {}) = 0;

  virtual std::shared_ptr<Work> barrier(const BarrierOptions& options = {}) = 0;

  // Collective. Ranks passing the same `color` form a new communicator, ordered by (key, rank).
  // `name` names the new peer group in errors. Blocking: the backend first checks, under the
  // timeout, that every rank arrived.
  virtual std::shared_ptr<Communicator> split(int color, int key, const std::string& name) = 0;
};

}  // namespace switchyard::comm
