// File: train/sha256.h
#pragma once

#include <string>

namespace switchyard::train {

// Lower-case hex SHA-256 of the file's bytes (OpenSSL). Throws Error if it cannot be read.
std::string sha256_file(const std::string& path);

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_bytes(const std::string& bytes);

}  // namespace switchyard::train
