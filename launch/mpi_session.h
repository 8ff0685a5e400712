// File: launch/mpi_session.h
//
// MPI for the lifetime of a command: MPI_Init_thread on construction (MPI_THREAD_MULTIPLE
// requested, so the NCCL watchdog thread may call MPI), MPI_Finalize on destruction, and
// abort() to end every rank of the job when this one cannot go on.
#pragma once

#include <string>

namespace switchyard::launch {

class MpiSession {
 public:
  MpiSession();
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
};

}  // namespace switchyard::launch
