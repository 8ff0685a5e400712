// File: comm/make_communicator.h
//
// From the experiment config (CommConfig) to communicators, topology options and the all-to-all
// algorithm. The only comm/ file that reads the config proto.
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/backend_choice.h"
#include "comm/communicator.h"
#include "comm/topology.h"
#include "comm/types.h"
#include "core/config/experiment.pb.h"

namespace switchyard::comm {

// The world communicators of a run (comm/backend_choice.h decides the backend).
struct WorldCommunicators {
  std::shared_ptr<Communicator> world;       // the chosen backend, every rank
  std::shared_ptr<Communicator> host_world;  // MPI over the same ranks, for CPU tensors; the same
                                             // object as `world` when the backend is MPI
  BackendChoice choice;
};

BackendRequest backend_request(const config::CommConfig& config);

// Collective over MPI_COMM_WORLD (which must be initialized). `tensors_on_cuda`: this rank
// computes on a CUDA device (which must already be current: NCCL binds to it).
//   MPI, direct or CUDA-aware: an MpiCommunicator named "world" over a duplicate of
//     MPI_COMM_WORLD (taking device buffers when the library is CUDA-aware).
//   MPI, host staging: the same behind a HostStagingCommunicator.
//   NCCL: a NcclCommunicator bootstrapped over MPI, then an MPI duplicate as host_world.
// Timeout from comm.timeout_ms (ConfigError when not positive); ConfigError "comm.backend" for an
// impossible backend request.
WorldCommunicators make_world_communicators(const config::CommConfig& config,
                                            bool tensors_on_cuda,
                                            TimeoutAction on_timeout);

TopologyOptions topology_options(const config::CommConfig& config);

AllToAllAlgorithm all_to_all_algorithm(const config::CommConfig& config);

}  // namespace switchyard::comm
