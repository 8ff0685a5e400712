#include "train/tensorboard/crc32c.h"

#include <boost/crc.hpp>

namespace switchyard::tensorboard {

uint32_t crc32c(std::string_view data) {
  // Normal polynomial 0x1EDC6F41, initial value and final XOR all ones, input and output
  // reflected: CRC-32C.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

uint32_t mask_crc(uint32_t crc) {
  // Unsigned arithmetic wraps modulo 2^32 as the format requires.
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

uint32_t masked_crc32c(std::string_view data) { return mask_crc(crc32c(data)); }

}  // namespace switchyard::tensorboard
