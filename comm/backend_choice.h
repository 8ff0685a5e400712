// File: comm/backend_choice.h
//
// Which backend carries a run's collectives, and how device tensors reach it: the rule of
// `comm.backend` (AUTO | MPI | NCCL) as a pure function of what the rank computes on and what the
// build and the MPI library offer, so that every case is tested on machines without a GPU.
//
//   request  tensors  NCCL built  MPI CUDA-aware  ->  backend  device transport
//   AUTO     CPU      any         any                 MPI      direct (CPU tensors)
//   AUTO     CUDA     yes         any                 NCCL     direct (device buffers)
//   AUTO     CUDA     no          yes                 MPI      CUDA-aware MPI (device buffers)
//   AUTO     CUDA     no          no                  MPI      host staging (two copies)
//   MPI      CPU      any         any                 MPI      direct
//   MPI      CUDA     any         yes / no            MPI      CUDA-aware MPI / host staging
//   NCCL     CUDA     yes         any                 NCCL     direct
//   NCCL     CUDA     no          any                 ConfigError comm.backend (no NCCL in build)
//   NCCL     CPU      any         any                 ConfigError comm.backend (CPU tensors)
//
// With NCCL the small host-value collectives (loss sums, counters, agreement on a checkpoint)
// still need a CPU-capable communicator: the caller builds an MPI twin of the world for them.
#pragma once

#include <string>
#include <string_view>

namespace switchyard::comm {

enum class BackendRequest { kAuto, kMpi, kNccl };
enum class Backend { kMpi, kNccl };

// How a CUDA tensor reaches the backend (kDirect also for every CPU run).
enum class DeviceTransport {
  kDirect,        // the backend reads the tensor's own memory (CPU tensors, or NCCL)
  kCudaAwareMpi,  // MPI reads device memory itself, after the device has finished writing it
  kHostStaging,   // copied to host buffers and back around every collective
};

struct BackendFacts {
  bool tensors_on_cuda = false;  // this rank's model and activations live on a CUDA device
  bool nccl_built = false;       // the build has the NCCL communicator (SWITCHYARD_WITH_NCCL)
  bool mpi_cuda_aware = false;   // mpi_reports_cuda_support()
};

struct BackendChoice {
  Backend backend = Backend::kMpi;
  DeviceTransport transport = DeviceTransport::kDirect;
  std::string reason;  // one line for the start-up log, e.g. "AUTO: CUDA tensors, NCCL built"
};

// Throws ConfigError("comm.backend", ...) for the two impossible requests of the table above.
BackendChoice choose_backend(BackendRequest request, const BackendFacts& facts);

std::string_view backend_name(Backend backend);              // "MPI", "NCCL"
std::string_view transport_name(DeviceTransport transport);  // "direct", ...

// True when the MPI library this process runs on can read and write CUDA device memory: Open
// MPI's compile-time MPIX_CUDA_AWARE_SUPPORT and its run-time MPIX_Query_cuda_support() both say
// so. False for MPI libraries without that extension. MPI must be initialized.
bool mpi_reports_cuda_support();

}  // namespace switchyard::comm
