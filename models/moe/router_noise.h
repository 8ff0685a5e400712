// File: models/moe/router_noise.h
//
// Seeded random draws that are identical between a distributed run and its single-process
// reference: the numbers for the whole global batch ([global_rows, cols]) are drawn from one
// generator seeded with (seed, stream) and the caller's rows [row_offset, row_offset + rows) are
// returned. Cost: global_rows * cols draws per call (cheap next to the expert GEMMs).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "core/seed.h"

namespace switchyard::models {

// Distinct streams of one call's seed.
enum class NoiseStream : uint64_t { kJitter = 1, kGumbel = 2, kRandomKeep = 3, kDropPriority = 4 };

// The per-(seed, layer, step) seeds come from core/seed.h's mix_seed.
using switchyard::mix_seed;

// [rows, cols] float32 uniform in [0, 1): rows [row_offset, row_offset + rows) of the
// [global_rows, cols] draw of (seed, stream). global_rows < 0 means rows (no slicing).
at::Tensor uniform_rows(uint64_t seed,
                        NoiseStream stream,
                        int64_t row_offset,
                        int64_t rows,
                        int64_t global_rows,
                        int64_t cols);

}  // namespace switchyard::models
