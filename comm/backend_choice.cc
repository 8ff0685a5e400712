#include "comm/backend_choice.h"

#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif

#include "core/errors.h"

namespace switchyard::comm {

BackendChoice choose_backend(BackendRequest request, const BackendFacts& facts) {
  const std::string prefix = request == BackendRequest::kAuto ? "AUTO: " : "";
  if (request == BackendRequest::kNccl) {
    if (!facts.nccl_built) {
      throw ConfigError("comm.backend",
                        "NCCL requested but this build has no NCCL backend (configure with "
                        "-DSWITCHYARD_WITH_NCCL=ON against a CUDA toolkit and nccl.h)");
    }
    if (!facts.tensors_on_cuda) {
      throw ConfigError("comm.backend",
                        "NCCL carries CUDA tensors but this rank computes on the CPU (set "
                        "parallel.device to CUDA or AUTO on a GPU host, or comm.backend to MPI)");
    }
    return {Backend::kNccl, DeviceTransport::kDirect, "NCCL requested, CUDA tensors"};
  }
  if (!facts.tensors_on_cuda) {
    return {Backend::kMpi, DeviceTransport::kDirect, prefix + "CPU tensors"};
  }
  if (request == BackendRequest::kAuto && facts.nccl_built) {
    return {Backend::kNccl, DeviceTransport::kDirect, "AUTO: CUDA tensors and a build with NCCL"};
  }
  const std::string why = request == BackendRequest::kAuto
                              ? prefix + "CUDA tensors, no NCCL in this build; "
                              : "MPI requested with CUDA tensors; ";
  if (facts.mpi_cuda_aware) {
    return {Backend::kMpi, DeviceTransport::kCudaAwareMpi,
            why + "the MPI library is CUDA-aware, so it reads device memory itself"};
  }
  return {Backend::kMpi, DeviceTransport::kHostStaging,
          why +
              "the MPI library is not CUDA-aware, so every collective is staged through host "
              "memory (two copies each: correct, slow)"};
}

std::string_view backend_name(Backend backend) {
  return backend == Backend::kNccl ? "NCCL" : "MPI";
}

std::string_view transport_name(DeviceTransport transport) {
  switch (transport) {
    case DeviceTransport::kDirect:
      return "direct";
    case DeviceTransport::kCudaAwareMpi:
      return "CUDA-aware MPI";
    case DeviceTransport::kHostStaging:
      return "host staging";
  }
  return "?";
}

bool mpi_reports_cuda_support() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

}  // namespace switchyard::comm
