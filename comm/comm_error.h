// File: comm/comm_error.h
//
// Runtime communication failures. Every error names the backend ("mpi", "nccl", "cuda"), the
// operation, the rank within the communicator, the communicator's name (peer group) and the
// per-communicator sequence number of the operation, plus file:line of the failing call.
//
//   CommError         a backend call failed, the layouts of the ranks disagree, or the
//                     communicator is broken by an earlier timeout.
//   CommTimeoutError  an operation did not complete within its timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/errors.h"

namespace switchyard::comm {

// Where an error happened. seq == -1 means "not tied to one operation" (e.g. a split).
struct CommErrorContext {
  std::string backend;  // "mpi", "nccl", "cuda", or a strategy name such as "hierarchical"
  std::string op;       // "all_reduce", "all_to_all", "split", ...
  std::string group;    // communicator name, e.g. "world", "expert", "intra_node"
  int rank = -1;        // rank within the communicator
  int size = 0;         // size of the communicator
  int64_t seq = -1;     // per-communicator sequence number of the operation
};

// Formats "backend op #seq on group 'g' (rank r of n)".
std::string describe(const CommErrorContext& context);

class CommError : public Error {
 public:
  CommError(CommErrorContext context,
            const std::string& reason,
            const char* file = nullptr,
            int line = 0);
  const CommErrorContext& context() const { return context_; }
  const std::string& reason() const { return reason_; }

 private:
  CommErrorContext context_;
  std::string reason_;
};

class CommTimeoutError : public CommError {
 public:
  CommTimeoutError(CommErrorContext context,
                   std::chrono::milliseconds timeout,
                   const char* file = nullptr,
                   int line = 0);
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace switchyard::comm
