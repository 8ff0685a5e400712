// File: comm/mpi/mpi_checks.h
//
// SY_MPI_CHECK(call, context): runs an MPI call; on a return code other than MPI_SUCCESS throws
// CommError{context} with the MPI error string, the call text and file:line. The communicator
// must use MPI_ERRORS_RETURN (MpiCommunicator sets it) or MPI aborts before the check runs.
#pragma once

#include <mpi.h>

#include "comm/comm_error.h"

namespace switchyard::comm::detail {

[[noreturn]] void throw_mpi_error(
    int code, const char* call, const CommErrorContext& context, const char* file, int line);

}  // namespace switchyard::comm::detail

#define SY_MPI_CHECK(call, context)                                                       \
  do {                                                                                    \
    const int sy_mpi_rc_ = (call);                                                        \
    if (sy_mpi_rc_ != MPI_SUCCESS) {                                                      \
      ::switchyard::comm::detail::throw_mpi_error(sy_mpi_rc_, #call, (context), __FILE__, \
                                                  __LINE__);                              \
    }                                                                                     \
  } while (false)
