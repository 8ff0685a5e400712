#include "comm/make_communicator.h"

#include "comm/host_staging_communicator.h"
#include "comm/mpi/mpi_communicator.h"
#include "core/errors.h"
#ifdef SWITCHYARD_WITH_NCCL
#include "comm/nccl/nccl_communicator.h"
#endif
#ifdef SWITCHYARD_WITH_C10_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace switchyard::comm {

BackendRequest backend_request(const config::CommConfig& config) {
  switch (config.backend()) {
    case config::CommConfig::MPI:
      return BackendRequest::kMpi;
    case config::CommConfig::NCCL:
      return BackendRequest::kNccl;
    case config::CommConfig::AUTO:
    default:
      return BackendRequest::kAuto;
  }
}

WorldCommunicators make_world_communicators(const config::CommConfig& config,
                                            bool tensors_on_cuda,
                                            TimeoutAction on_timeout) {
  if (config.timeout_ms() <= 0) {
    throw ConfigError("comm.timeout_ms",
                      "must be positive, got " + std::to_string(config.timeout_ms()));
  }
  BackendFacts facts;
  facts.tensors_on_cuda = tensors_on_cuda;
#ifdef SWITCHYARD_WITH_NCCL
  facts.nccl_built = true;
#endif
  facts.mpi_cuda_aware = mpi_reports_cuda_support();
  WorldCommunicators out;
  out.choice = choose_backend(backend_request(config), facts);
  const std::chrono::milliseconds timeout{config.timeout_ms()};
  MpiCommunicatorOptions mpi_options;
  mpi_options.name = "world";
  mpi_options.timeout = timeout;
  mpi_options.on_timeout = on_timeout;
  if (out.choice.backend == Backend::kNccl) {
#ifdef SWITCHYARD_WITH_NCCL
    NcclCommunicatorOptions options;
    options.timeout = timeout;
    options.on_timeout = on_timeout;
#ifdef SWITCHYARD_WITH_C10_CUDA
    // Every operation waits for the work LibTorch queued on the issuing thread's current stream
    // (the default stream unless a stream guard is active), as the step's kernels run there.
    options.caller_stream = [] { return c10::cuda::getCurrentCUDAStream().stream(); };
#endif
    out.world = NcclCommunicator::create(MPI_COMM_WORLD, options);
    out.host_world = MpiCommunicator::duplicate(MPI_COMM_WORLD, mpi_options);
    return out;
#endif
  }
  mpi_options.device_buffers = out.choice.transport == DeviceTransport::kCudaAwareMpi;
  std::shared_ptr<Communicator> mpi = MpiCommunicator::duplicate(MPI_COMM_WORLD, mpi_options);
  if (out.choice.transport == DeviceTransport::kHostStaging) {
    mpi = std::make_shared<HostStagingCommunicator>(std::move(mpi));
  }
  out.world = mpi;
  out.host_world = mpi;
  return out;
}

TopologyOptions topology_options(const config::CommConfig& config) {
  TopologyOptions options;
  options.ranks_per_node = config.ranks_per_node();
  return options;
}

AllToAllAlgorithm all_to_all_algorithm(const config::CommConfig& config) {
  switch (config.all_to_all()) {
    case config::CommConfig::HIERARCHICAL:
      return AllToAllAlgorithm::kHierarchical;
    case config::CommConfig::LEADER:
      return AllToAllAlgorithm::kLeader;
    case config::CommConfig::FLAT:
    default:
      return AllToAllAlgorithm::kFlat;
  }
}

}  // namespace switchyard::comm
