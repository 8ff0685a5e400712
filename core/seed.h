// File: core/seed.h
//
// The project's one way of deriving seeds: SplitMix64 (Steele, Lea, Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), a counter-based mixer, so the seed of stream i
// at step s is computed directly from (base, i, s) with no generator state to save or restore.
#pragma once

#include <cstdint>

namespace switchyard {

// One SplitMix64 step: a bijective 64-bit mix.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The seed of (base, a, b), e.g. (train seed, layer, step) or (seed, stream, worker).
constexpr uint64_t mix_seed(uint64_t base, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(base) ^ a) ^ b);
}

}  // namespace switchyard
