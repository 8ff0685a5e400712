// File: launch/mpi_session.h
//
// MPI for the lifetime of a command, the one way launch/ starts MPI: MPI_Init_thread on
// construction unless MPI is already initialized (then the session only borrows it),
// MPI_Finalize on destruction when this session initialized it, and abort() to end every rank
// of the job when this one cannot go on.
//
// Thread level: kMultiple (default) lets the NCCL watchdog thread call MPI; benchmarks that
// measure MPI alone ask for kSerialized, which Open MPI serves without the locking of
// MPI_THREAD_MULTIPLE.
#pragma once

#include <string>

namespace switchyard::launch {

class MpiSession {
 public:
  enum class ThreadLevel { kSerialized, kMultiple };

  explicit MpiSession(ThreadLevel level = ThreadLevel::kMultiple);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int world_rank() const { return rank_; }
  int world_size() const { return size_; }

  // Prints "switchyard: rank R: <message>" to stderr and ends the whole job (MPI_Abort).
  [[noreturn]] void abort(const std::string& message, int exit_code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool owned_ = false;
};

}  // namespace switchyard::launch
