#include "train/data/permutation.h"

#include "core/errors.h"

namespace switchyard::train::data {
namespace {

constexpr int kRounds = 6;

}  // namespace

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Permutation::Permutation(uint64_t n, uint64_t key) : n_(n), key_(mix64(key)) {
  if (n == 0) throw InternalError("permutation of an empty range");
  // The smallest 2h bits with 2^(2h) >= n (h >= 1): at most 4n values are walked over.
  int bits = 0;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  half_bits_ = bits <= 2 ? 1 : (bits + 1) / 2;
  half_mask_ = half_bits_ >= 32 ? 0xffffffffULL : (uint64_t{1} << half_bits_) - 1;
}

uint64_t Permutation::round(int r, uint64_t half) const {
  return mix64(key_ ^ mix64(half + (static_cast<uint64_t>(r) << 40))) & half_mask_;
}

uint64_t Permutation::encrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_, right = x & half_mask_;
  for (int r = 0; r < kRounds; ++r) {
    const uint64_t next = left ^ round(r, right);
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t Permutation::decrypt(uint64_t y) const {
  uint64_t left = y >> half_bits_, right = y & half_mask_;
  for (int r = kRounds - 1; r >= 0; --r) {
    const uint64_t previous = right ^ round(r, left);
    right = left;
    left = previous;
  }
  return (left << half_bits_) | right;
}

// Cycle-walking: applying the bijection until the value falls inside [0, n) again restricts it
// to a bijection of [0, n); its inverse walks the other way.
uint64_t Permutation::operator()(uint64_t x) const {
  if (x >= n_) throw InternalError("permutation argument out of range");
  uint64_t y = encrypt(x);
  while (y >= n_) y = encrypt(y);
  return y;
}

uint64_t Permutation::inverse(uint64_t y) const {
  if (y >= n_) throw InternalError("permutation argument out of range");
  uint64_t x = decrypt(y);
  while (x >= n_) x = decrypt(x);
  return x;
}

}  // namespace switchyard::train::data
