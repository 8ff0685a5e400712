// File: comm/work.h
//
// Work: the handle of one asynchronous collective. Every Communicator method returns one.
//
// Contract:
//   * wait() blocks until the operation completes, then rethrows its failure, if any, as the
//     typed error it was stored as (CommError, CommTimeoutError). A timed-out operation either
//     throws CommTimeoutError or aborts the job, as the communicator's TimeoutAction says.
//   * Output tensors may be read only after wait() returned (or is_completed() returned true).
//   * A Work keeps the tensors of its operation alive until it completes.
//   * Threading: a Work is used by one thread at a time. With the MPI backend, calls from several
//     threads need MPI_THREAD_MULTIPLE.
#pragma once

#include <chrono>
#include <exception>
#include <memory>

#include "comm/types.h"

namespace switchyard::comm {

class Work {
 public:
  virtual ~Work() = default;

  // Non-blocking completion test; drives the backend's progress. Never throws for a failed op
  // (the failure is kept for wait()).
  virtual bool is_completed() = 0;

  // Blocks until the operation completes, polling against a deadline. With
  // timeout == kUnsetTimeout the deadline is the operation's own timeout counted from when it
  // was issued; otherwise `timeout` counted from this call. Rethrows a stored failure.
  virtual void wait(std::chrono::milliseconds timeout = kUnsetTimeout) = 0;

  // Makes the caller's current CUDA stream wait for the operation, without blocking the host.
  // No-op for CPU backends.
  virtual void synchronize_stream() = 0;

  // The stored failure, or nullptr.
  virtual std::exception_ptr exception() const = 0;
};

// A Work that is already complete (empty operations, single-rank shortcuts).
std::shared_ptr<Work> make_completed_work(std::exception_ptr failure = nullptr);

}  // namespace switchyard::comm
