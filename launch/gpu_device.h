// File: launch/gpu_device.h
//
// GPU selection in GPU builds: each rank uses device local_rank % (visible devices), so ranks of
// one node spread over its GPUs whether the launcher shows every GPU to every rank (mpirun) or
// one GPU per task (srun --gpus-per-task / CUDA_VISIBLE_DEVICES per rank).
#pragma once

#include <string>

namespace switchyard::launch {

// Makes device local_rank % count current (cudaSetDevice) and returns a one-line description
// for the log. Without NCCL in the build, or with no usable device, selects nothing and says so.
std::string select_gpu_for_local_rank(int local_rank);

}  // namespace switchyard::launch
