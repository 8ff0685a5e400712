// File: comm/nccl/nccl_checks.h
//
// SY_NCCL_CHECK(call, context) and SY_CUDA_CHECK(call, context): run the call; on failure throw
// CommError{context} with the library's error string, the call text and file:line.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "comm/comm_error.h"

#define SY_NCCL_CHECK(call, context)                                                               \
  do {                                                                                             \
    const ncclResult_t sy_nccl_rc_ = (call);                                                       \
    if (sy_nccl_rc_ != ncclSuccess && sy_nccl_rc_ != ncclInProgress) {                             \
      throw ::switchyard::comm::CommError(                                                         \
          (context), std::string(#call) + " failed: " + ncclGetErrorString(sy_nccl_rc_), __FILE__, \
          __LINE__);                                                                               \
    }                                                                                              \
  } while (false)

#define SY_CUDA_CHECK(call, context)                                                        \
  do {                                                                                      \
    const cudaError_t sy_cuda_rc_ = (call);                                                 \
    if (sy_cuda_rc_ != cudaSuccess) {                                                       \
      ::switchyard::comm::CommErrorContext sy_cuda_ctx_ = (context);                        \
      sy_cuda_ctx_.backend = "cuda";                                                        \
      throw ::switchyard::comm::CommError(                                                  \
          sy_cuda_ctx_, std::string(#call) + " failed: " + cudaGetErrorString(sy_cuda_rc_), \
          __FILE__, __LINE__);                                                              \
    }                                                                                       \
  } while (false)
