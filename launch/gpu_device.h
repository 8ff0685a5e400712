// File: launch/gpu_device.h
//
// Which device a rank computes on (parallel.device). AUTO takes CUDA when this rank sees a CUDA
// device, else the CPU. On CUDA, local rank r uses device r of the ones it sees, or device 0 when
// it sees exactly one (srun --gpus-per-task / a CUDA_VISIBLE_DEVICES per rank). More ranks on a
// node than visible devices is a ConfigError naming parallel.device, never two ranks silently
// sharing a GPU: check_distinct_gpus() compares the chosen devices' PCI addresses over the job.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "comm/communicator.h"
#include "core/config/experiment.pb.h"

namespace switchyard::launch {

struct DeviceChoice {
  c10::Device device{c10::kCPU};
  std::string description;  // for the start-up log: "CUDA device 1 of 4 (NVIDIA H200, ...)"
  std::string pci_address;  // "0000:1b:00.0" on CUDA, empty on the CPU
};

// Resolves parallel.device for the process of index `local_rank` among the `local_size` ranks of
// its node, and makes a chosen CUDA device current. Throws ConfigError("parallel.device", ...)
// when CUDA is required and none is visible, or when the node has more ranks than devices.
DeviceChoice select_device(config::ParallelConfig::Device wanted, int local_rank, int local_size);

// Collective over `world`: throws ConfigError("parallel.device", ...) on every rank when two
// ranks of one host chose the same GPU. `host` names this rank's host.
void check_distinct_gpus(comm::Communicator& world,
                         const DeviceChoice& choice,
                         const std::string& host);

}  // namespace switchyard::launch
