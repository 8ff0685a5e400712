#include "launch/gpu_device.h"

#ifdef SWITCHYARD_WITH_NCCL
#include <cuda_runtime_api.h>
#endif

namespace switchyard::launch {

std::string select_gpu_for_local_rank(int local_rank) {
#ifdef SWITCHYARD_WITH_NCCL
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
    cudaGetLastError();  // clear the sticky error of a machine without a usable driver
    return "no usable CUDA device";
  }
  const int device = local_rank % count;
  if (cudaSetDevice(device) != cudaSuccess) {
    return "cudaSetDevice(" + std::to_string(device) + ") failed";
  }
  return "CUDA device " + std::to_string(device) + " of " + std::to_string(count) +
         " (local rank " + std::to_string(local_rank) + ")";
#else
  (void)local_rank;
  return "no CUDA in this build";
#endif
}

}  // namespace switchyard::launch
