#include "launch/mpi_session.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

namespace switchyard::launch {

MpiSession::MpiSession(ThreadLevel level) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr,
                    level == ThreadLevel::kMultiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_SERIALIZED,
                    &provided);
    owned_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (!owned_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiSession::abort(const std::string& message, int exit_code) const {
  std::fprintf(stderr, "switchyard: rank %d: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  // Alone in the job there is nobody to take down: exit without MPI_Abort's banner, so the
  // message above stays the only line.
  if (size_ == 1) std::_Exit(exit_code);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace switchyard::launch
