// File: core/threads.h
//
// Explicit control of the two compute thread pools a rank has: LibTorch's intra-op pool and the
// BLAS library's own pool (OpenBLAS runs one regardless of LibTorch's setting). Letting both
// default on a small machine puts 2x the cores' worth of spinning threads on the CPU; several
// ranks per node multiply that. Call set_compute_threads() once per rank at start-up.
#pragma once

namespace switchyard {

// Threads each rank should use: cores / ranks on the node, at least 1.
int default_threads_per_rank(int cores, int ranks_on_node);

// The number of online cores of this machine.
int online_cores();

// Sets LibTorch's intra-op threads and, when the BLAS is OpenBLAS, its pool, to `threads`.
void set_compute_threads(int threads);

// LibTorch's intra-op thread count.
int torch_threads();

// OpenBLAS's thread count, or -1 when the BLAS in use is not OpenBLAS.
int blas_threads();

}  // namespace switchyard
