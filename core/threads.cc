#include "core/threads.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>

#include <ATen/Context.h>
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

bool torch_has_own_blas() { return at::hasMKL(); }

void set_compute_threads(int blas_threads, int intra_op_threads) {
  SY_CHECK_GT(blas_threads, 0);
  SY_CHECK_GT(intra_op_threads, 0);
  // With its own BLAS (MKL), LibTorch's matrix products run in its intra-op pool: one pool.
  at::set_num_threads(torch_has_own_blas() ? blas_threads : intra_op_threads);
  if (SetThreads set = openblas_setter()) set(blas_threads);
}

int torch_threads() { return at::get_num_threads(); }

int blas_threads() {
  if (GetThreads get = openblas_getter()) return get();
  return torch_has_own_blas() ? at::get_num_threads() : -1;
}

}  // namespace switchyard
