// File: comm/all_to_all.h
//
// The token exchange of expert parallelism: AllToAllLayout (who sends how many rows to whom) and
// the AllToAll strategy interface (flat, hierarchical, leader; see make_all_to_all.h).
//
// Layout. count(src, dst) = rows EP rank src sends to EP rank dst. A rank's input is grouped by
// destination ([sum_dst count(me, dst), H...]); its output is grouped by source
// ([sum_src count(src, me), H...]), exactly like MPI_Alltoallv.
//
// Typical use (models/; the MoE layer gets its layout from comm/a2a/expert_layout.h):
//   AllToAllLayout layout = AllToAllLayout::exchange_counts(*groups.expert, send_counts);  // sync
//   at::Tensor routed = all_to_all_autograd(a2a, tokens /* [sum(send), H] */, layout);
//   ... experts ...
//   at::Tensor back = all_to_all_autograd(a2a, expert_out, layout.transposed());  // combine
//
// Agreement. All ranks must pass layouts that describe the same exchange. A layout from
// exchange_counts() or from_agreed_count_matrix() is agreed by construction (every rank holds the
// same all-gathered matrix). Layouts built locally (from_count_matrix, from_counts) are verified by
// the strategy before any payload moves: one small all-gather of every rank's counts; on
// disagreement every rank throws CommError naming the ranks and counts that disagree (no hang, no
// garbage).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/traffic.h"
#include "comm/types.h"

namespace switchyard::comm {

class Communicator;

class AllToAllLayout {
 public:
  // An empty layout of a 1-rank group (no rows).
  AllToAllLayout();

  // Collective over `group` (the EP communicator): all-gathers every rank's send counts
  // ([group.size()], rows per destination) into the count matrix. Host sync. `device`: where
  // the gather runs (CPU for MPI, the CUDA device for NCCL).
  static AllToAllLayout exchange_counts(Communicator& group,
                                        const std::vector<int64_t>& send_counts,
                                        std::chrono::milliseconds timeout = kUnsetTimeout,
                                        at::Device device = at::Device(at::kCPU));

  // Local: `count_matrix` is [size * size] row-major, count_matrix[src * size + dst]. Every rank
  // must pass the same matrix (verified before the payload exchange).
  static AllToAllLayout from_count_matrix(int rank, int size, std::vector<int64_t> count_matrix);

  // Local, from a matrix that every rank holds identically by construction (it came from one
  // all-gather, as in exchange_counts() and comm/a2a/expert_layout.h): agreed(), so the
  // strategies skip their verification all-gather. Anything else must use from_count_matrix().
  static AllToAllLayout from_agreed_count_matrix(int rank,
                                                 int size,
                                                 std::vector<int64_t> count_matrix);

  // Local, without the full matrix: only this rank's send and receive counts. Accepted by the
  // flat strategy only (the others need the matrix). Verified before the payload exchange.
  static AllToAllLayout from_counts(int rank,
                                    std::vector<int64_t> send_counts,
                                    std::vector<int64_t> recv_counts);

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::vector<int64_t>& send_counts() const { return send_counts_; }  // [size]
  const std::vector<int64_t>& recv_counts() const { return recv_counts_; }  // [size]
  int64_t total_send_rows() const { return total_send_; }
  int64_t total_recv_rows() const { return total_recv_; }

  bool has_count_matrix() const { return !count_matrix_.empty() || size_ == 0; }
  const std::vector<int64_t>& count_matrix() const { return count_matrix_; }  // [size * size]
  int64_t count(int src, int dst) const;  // needs has_count_matrix()

  // True for layouts from exchange_counts() (and their transposes): no verification needed.
  bool agreed() const { return agreed_; }

  // The reverse exchange (combine, backward): send and receive swapped, matrix transposed.
  AllToAllLayout transposed() const;

  // Order-sensitive hash of the count matrix (0 without one); used by verification.
  uint64_t fingerprint() const;

 private:
  int rank_ = 0;
  int size_ = 1;
  std::vector<int64_t> send_counts_;
  std::vector<int64_t> recv_counts_;
  std::vector<int64_t> count_matrix_;
  int64_t total_send_ = 0;
  int64_t total_recv_ = 0;
  bool agreed_ = false;

  void finish_init();
};

// kInterFirst: the two-level exchange with the inter-node phase first (SMILE's dispatch order).
enum class AllToAllAlgorithm { kFlat, kHierarchical, kLeader, kInterFirst };

std::string_view algorithm_name(AllToAllAlgorithm algorithm);

struct AllToAllStrategyOptions {
  // Verify every layout, even agreed ones, before the payload exchange (one extra small
  // all-gather per exchange). Locally built layouts are always verified.
  bool always_verify_layout = false;
  // Timeout of each collective the strategy issues; unset = the communicators' own.
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

// Strategy interface. exchange() is collective over the EP group: every EP rank calls it in the
// same order with an agreeing layout. Synchronous (returns when this rank's output is complete).
// Threading: one thread at a time. Traffic counters accumulate over exchanges on this rank.
class AllToAll {
 public:
  virtual ~AllToAll() = default;

  virtual std::string_view name() const = 0;
  virtual int group_size() const = 0;
  virtual int group_rank() const = 0;

  // input:  [layout.total_send_rows(), ...] contiguous, grouped by destination EP rank
  // return: [layout.total_recv_rows(), ...] grouped by source EP rank; same dtype and trailing
  //         dims. Bit-identical across strategies.
  virtual at::Tensor exchange(const at::Tensor& input, const AllToAllLayout& layout) = 0;

  // Payload traffic this rank sent since construction or the last reset_traffic().
  virtual const TrafficCounters& traffic() const = 0;
  virtual void reset_traffic() = 0;
};

}  // namespace switchyard::comm
