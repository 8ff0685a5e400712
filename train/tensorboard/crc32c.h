// File: train/tensorboard/crc32c.h
//
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as used by iSCSI, ext4 and TFRecord
// files) and TFRecord's masked form of it, which a record stores so that a CRC of data that
// itself holds CRCs does not degenerate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace switchyard::tensorboard {

// CRC-32C of `data` (check value: crc32c("123456789") == 0xE3069283).
uint32_t crc32c(std::string_view data);

// ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2^32.
uint32_t mask_crc(uint32_t crc);

// crc32c then mask_crc: the checksum a TFRecord stores.
uint32_t masked_crc32c(std::string_view data);

}  // namespace switchyard::tensorboard
