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

// Whether LibTorch carries its own BLAS (MKL, as in PyPI's torch wheel): its matrix products then
// run in its intra-op pool, and there is one pool to set, not two.
bool torch_has_own_blas();

// Sets the BLAS pool (when the BLAS is OpenBLAS) to `blas_threads` and LibTorch's intra-op pool
// to `intra_op_threads`; when LibTorch has its own BLAS, its pool gets `blas_threads` (OpenBLAS,
// used by the fused attention's cblas calls, still gets `blas_threads`). Matrix products run in the
// BLAS pool; LibTorch's pool only splits element-wise and indexing work, whose threads spin against
// the BLAS threads on small cores: an MoE layer ran 2.84x its dense-equivalent time with both pools
// at 2 threads on 2 cores, and 1.05x with LibTorch at 1 and OpenBLAS at 2. Hence the default of 1
// intra-op thread.
void set_compute_threads(int blas_threads, int intra_op_threads = 1);

// LibTorch's intra-op thread count.
int torch_threads();

// OpenBLAS's thread count; LibTorch's when it has its own BLAS and no OpenBLAS is loaded; else -1.
int blas_threads();

}  // namespace switchyard
