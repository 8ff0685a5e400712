#include "core/threads.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>

#include <ATen/Parallel.h>

#include "core/check.h"

namespace switchyard {
namespace {

// OpenBLAS's control functions, looked up in the process (LibTorch loads the system BLAS).
using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads openblas_setter() {
  return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
GetThreads openblas_getter() {
  return reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
}

}  // namespace

int default_threads_per_rank(int cores, int ranks_on_node) {
  SY_CHECK_GT(ranks_on_node, 0);
  return std::max(1, cores / ranks_on_node);
}

int online_cores() { return std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)); }

void set_compute_threads(int blas_threads, int intra_op_threads) {
  SY_CHECK_GT(blas_threads, 0);
  SY_CHECK_GT(intra_op_threads, 0);
  at::set_num_threads(intra_op_threads);
  if (SetThreads set = openblas_setter()) set(blas_threads);
}

int torch_threads() { return at::get_num_threads(); }

int blas_threads() {
  GetThreads get = openblas_getter();
  return get ? get() : -1;
}

}  // namespace switchyard
