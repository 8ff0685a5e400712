#include "comm/make_communicator.h"

#include "comm/host_staging_communicator.h"
#include "comm/mpi/mpi_communicator.h"
#include "core/errors.h"
#ifdef SWITCHYARD_WITH_NCCL
#include "comm/nccl/nccl_communicator.h"
#endif

namespace switchyard::comm {

std::shared_ptr<Communicator> make_world_communicator(const config::CommConfig& config,
                                                      TimeoutAction on_timeout) {
  if (config.timeout_ms() <= 0) {
    throw ConfigError("comm.timeout_ms",
                      "must be positive, got " + std::to_string(config.timeout_ms()));
  }
  const std::chrono::milliseconds timeout{config.timeout_ms()};
  if (config.backend() == config::CommConfig::NCCL) {
#ifdef SWITCHYARD_WITH_NCCL
    NcclCommunicatorOptions options;
    options.timeout = timeout;
    options.on_timeout = on_timeout;
    return NcclCommunicator::create(MPI_COMM_WORLD, options);
#else
    throw ConfigError("comm.backend",
                      "NCCL requested but this build has no NCCL "
                      "(configure with -DSWITCHYARD_WITH_NCCL=ON)");
#endif
  }
  MpiCommunicatorOptions options;
  options.name = "world";
  options.timeout = timeout;
  options.on_timeout = on_timeout;
  // Device tensors (a CUDA run on the MPI backend) travel through host buffers.
  return std::make_shared<HostStagingCommunicator>(
      MpiCommunicator::duplicate(MPI_COMM_WORLD, options));
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
