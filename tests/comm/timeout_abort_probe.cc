// Probe for TimeoutAction::kAbort: rank 1 skips a barrier; rank 0 must print one line naming
// the rank, operation, sequence number and group, and abort the job (run by expect_failure.sh).
#include <mpi.h>

#include <chrono>
#include <thread>

#include "comm/mpi/mpi_communicator.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  using namespace switchyard::comm;
  MpiCommunicatorOptions options;
  options.name = "probe_group";
  options.timeout = std::chrono::milliseconds(1000);
  options.on_timeout = TimeoutAction::kAbort;
  auto comm = MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
  if (comm->rank() == 0) {
    comm->barrier()->wait();  // never completes: aborts the job after 1 s
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(30));  // the "hung" peer
  }
  MPI_Finalize();
  return 0;
}
