// File: train/manifest_reader.h
//
// Parsing and checking a checkpoint's manifest.pbtxt without LibTorch (the fuzz target
// tests/fuzz/manifest_fuzz.cc drives it): text format, a known format version, a non-negative
// step, and a file list whose names stay inside the checkpoint directory (no '/', no "." or
// ".."), appear once, have a non-negative size and a 64-digit lower-case hex SHA-256.
#pragma once

#include <string>

#include "train/checkpoint_manifest.pb.h"

namespace switchyard::train {

// Manifest format versions this build reads (CheckpointStore writes the newest).
inline constexpr int kManifestFormatVersion = 2;
inline constexpr int kOldestManifestVersion = 1;

// Throws ConfigError naming `dir` (the checkpoint directory) and the problem.
CheckpointManifest parse_manifest(const std::string& text, const std::string& dir);

}  // namespace switchyard::train
