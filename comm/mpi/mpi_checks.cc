#include "comm/mpi/mpi_checks.h"

#include <string>

namespace switchyard::comm::detail {

void throw_mpi_error(
    int code, const char* call, const CommErrorContext& context, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw CommError(context,
                  std::string(call) + " failed with code " + std::to_string(code) + " (" +
                      std::string(text, static_cast<size_t>(length)) + ")",
                  file, line);
}

}  // namespace switchyard::comm::detail
