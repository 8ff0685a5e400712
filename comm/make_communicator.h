// File: comm/make_communicator.h
//
// From the experiment config (CommConfig) to communicators, topology options and the all-to-all
// algorithm. The only comm/ file that reads the config proto.
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/topology.h"
#include "comm/types.h"
#include "core/config/experiment.pb.h"

namespace switchyard::comm {

// Collective over MPI_COMM_WORLD (which must be initialized). Backend MPI: an MpiCommunicator
// named "world" over a duplicate of MPI_COMM_WORLD, behind a HostStagingCommunicator (device
// tensors travel through host buffers; CPU tensors pass straight through). Backend NCCL: a
// NcclCommunicator bootstrapped over MPI (ConfigError "comm.backend" in a build without NCCL).
// Timeout from comm.timeout_ms.
std::shared_ptr<Communicator> make_world_communicator(const config::CommConfig& config,
                                                      TimeoutAction on_timeout);

TopologyOptions topology_options(const config::CommConfig& config);

AllToAllAlgorithm all_to_all_algorithm(const config::CommConfig& config);

}  // namespace switchyard::comm
