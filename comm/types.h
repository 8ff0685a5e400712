// File: comm/types.h
//
// Small value types shared by every communicator backend: reduction operators, per-operation
// options (each with its own timeout) and the timeout policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace switchyard::comm {

// Timeout applied when neither the operation nor the communicator sets one (5 minutes, the
// default of CommConfig.timeout_ms).
inline constexpr std::chrono::milliseconds kDefaultTimeout{300000};
// "Not set": use the next level's timeout (operation -> communicator -> kDefaultTimeout).
inline constexpr std::chrono::milliseconds kUnsetTimeout{-1};

enum class ReduceOp { kSum, kMax, kMin };

std::string_view reduce_op_name(ReduceOp op);

// What a rank does when one of its collectives does not complete within its timeout.
enum class TimeoutAction {
  // Work::wait throws CommTimeoutError; the communicator is marked broken (every later call on
  // it throws CommError). For tests and for callers that shut down by themselves.
  kThrow,
  // Print one line (rank, operation, sequence number, peer group, timeout) to stderr and call
  // MPI_Abort on MPI_COMM_WORLD: the job ends instead of hanging. For training jobs.
  kAbort,
};

struct AllReduceOptions {
  ReduceOp op = ReduceOp::kSum;
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

struct AllGatherOptions {
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

struct AllToAllOptions {
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

// One block of rows moved by Communicator::exchange_blocks: `rows` rows starting at row `offset`
// of buffer `buffer` (an index into the call's inputs for a send, its outputs for a receive),
// sent to or received from group rank `peer`.
struct BlockTransfer {
  int peer = 0;
  int buffer = 0;
  int64_t offset = 0;
  int64_t rows = 0;
};

struct BroadcastOptions {
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

struct BarrierOptions {
  std::chrono::milliseconds timeout = kUnsetTimeout;
};

}  // namespace switchyard::comm
