// File: train/data/permutation.h
//
// A seeded pseudo-random permutation of [0, n) evaluated one element at a time, in O(1) memory
// and time (expected): a balanced Feistel network on the smallest even number of bits covering
// n, with cycle-walking to stay inside [0, n). Integer arithmetic only, so every machine and
// every rank computes the same permutation from the same (n, key). The token-dataset sampler
// uses it for the train/validation split by documents and for the order of samples in an epoch
// (indexed_sampler.h), so neither needs a shuffled array as large as the corpus.
#pragma once

#include <cstdint>

namespace switchyard::train::data {

// splitmix64's finalizer: a fixed 64-bit mixing function.
uint64_t mix64(uint64_t x);

class Permutation {
 public:
  // n >= 1.
  Permutation(uint64_t n, uint64_t key);

  uint64_t size() const { return n_; }
  // The image of x (< size()).
  uint64_t operator()(uint64_t x) const;
  // The x with (*this)(x) == y (y < size()).
  uint64_t inverse(uint64_t y) const;

 private:
  uint64_t encrypt(uint64_t x) const;  // one bijection of [0, 2^(2 * half_bits_))
  uint64_t decrypt(uint64_t y) const;
  uint64_t round(int r, uint64_t half) const;

  uint64_t n_;
  uint64_t key_;
  int half_bits_;
  uint64_t half_mask_;
};

}  // namespace switchyard::train::data
