#include "launch/gpu_device.h"

#include <functional>

#include <torch/cuda.h>

#ifdef SWITCHYARD_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "comm/host_collectives.h"
#include "core/errors.h"

namespace switchyard::launch {
namespace {

// Name, memory and PCI address of CUDA device `index`; makes it current.
void describe_and_set(int index, int count, DeviceChoice* choice) {
  choice->description = "CUDA device " + std::to_string(index) + " of " + std::to_string(count);
#ifdef SWITCHYARD_WITH_CUDA
  if (cudaSetDevice(index) != cudaSuccess) {
    cudaGetLastError();
    throw ConfigError("parallel.device", "cudaSetDevice(" + std::to_string(index) + ") failed");
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) {
    choice->description += std::string(" (") + prop.name + ", " +
                           std::to_string(prop.totalGlobalMem >> 30) + " GiB, compute " +
                           std::to_string(prop.major) + "." + std::to_string(prop.minor) + ")";
  }
  char bus[32] = {0};
  if (cudaDeviceGetPCIBusId(bus, sizeof(bus), index) == cudaSuccess) choice->pci_address = bus;
#endif
  if (choice->pci_address.empty()) choice->pci_address = "cuda:" + std::to_string(index);
}

}  // namespace

DeviceChoice select_device(config::ParallelConfig::Device wanted, int local_rank, int local_size) {
  DeviceChoice choice;
  if (wanted == config::ParallelConfig::CPU) {
    choice.description = "CPU (parallel.device = CPU)";
    return choice;
  }
  // Without a driver or a device this is 0 (the CUDA build runs on such machines).
  const int count = static_cast<int>(torch::cuda::device_count());
  if (count == 0) {
    if (wanted == config::ParallelConfig::CUDA) {
      throw ConfigError("parallel.device", "is CUDA but this rank sees no CUDA device");
    }
    choice.description = "CPU (no CUDA device visible)";
    return choice;
  }
  int index = 0;
  if (count > 1) {
    if (local_rank >= count) {
      throw ConfigError("parallel.device",
                        "local rank " + std::to_string(local_rank) + " of " +
                            std::to_string(local_size) + " on this node but only " +
                            std::to_string(count) +
                            " CUDA devices are visible: start at most one rank per GPU");
    }
    index = local_rank;
  }
  choice.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  describe_and_set(index, count, &choice);
  choice.description += ", local rank " + std::to_string(local_rank);
  return choice;
}

void check_distinct_gpus(comm::Communicator& world,
                         const DeviceChoice& choice,
                         const std::string& host) {
  // One key per rank: 0 on the CPU, else a hash of (host, PCI address).
  const auto key =
      choice.device.is_cuda()
          ? static_cast<int64_t>(std::hash<std::string>{}(host + "|" + choice.pci_address) >> 1) + 1
          : int64_t{0};
  const std::vector<int64_t> keys = comm::all_gather(world, std::vector<int64_t>{key});
  for (size_t a = 0; a < keys.size(); ++a) {
    for (size_t b = a + 1; b < keys.size(); ++b) {
      if (keys[a] != 0 && keys[a] == keys[b]) {
        throw ConfigError("parallel.device",
                          "ranks " + std::to_string(a) + " and " + std::to_string(b) +
                              " chose the same GPU: more ranks on a node than visible CUDA "
                              "devices (start at most one rank per GPU)");
      }
    }
  }
}

}  // namespace switchyard::launch
