// File: train/checkpoint_store.h
//
// A directory of checkpoints, written atomically:
//   <root>/.staging-step-00000123/   being written (never read as a checkpoint)
//   <root>/step-00000123/            committed: manifest.pbtxt + data files
// A save writes every file into the staging directory (fsynced), then the manifest, fsyncs the
// directory, renames it to step-N and fsyncs the root. A crash at any point leaves the previous
// checkpoints untouched; a leftover staging directory is ignored and replaced by the next save.
// After a successful commit only the newest keep_last checkpoints are kept.
//
// Loading verifies the manifest's format version and every file's size and SHA-256 before any
// tensor is used, and refuses a checkpoint that does not match with a one-line message.
//
// Distributed use: rank 0 calls begin(); every writer rank calls write_file() for its own files;
// after a barrier rank 0 calls commit_staged(), which lists what they wrote. The store itself
// does not communicate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/checkpoint_manifest.pb.h"
#include "train/manifest_reader.h"
#include "train/safetensors.h"

namespace switchyard::train {

class CheckpointStore {
 public:
  // Manifest format written by this build. Version 2 added the persistent buffers
  // ("buffer.<name>" tensors in dense.safetensors); version 1 checkpoints (parameters and
  // optimizer state only) are still read, their buffers keep the values the model was built with.
  static constexpr int kFormatVersion = kManifestFormatVersion;
  static constexpr int kOldestReadableVersion = kOldestManifestVersion;

  CheckpointStore(std::string root, int keep_last);

  const std::string& root() const { return root_; }
  std::string staging_dir(int64_t step) const;
  std::string committed_dir(int64_t step) const;

  // Creates an empty staging directory for `step` (replacing a leftover one).
  void begin(int64_t step) const;

  // Writes `tensors` to <staging>/<name> and returns its manifest entry.
  CheckpointFile write_file(int64_t step,
                            const std::string& name,
                            const NamedTensors& tensors) const;

  // Writes the manifest (with `manifest.step()` == step), makes the checkpoint visible
  // atomically, then prunes old ones.
  void commit(int64_t step, const CheckpointManifest& manifest) const;

  // commit() after listing every file of the staging directory in the manifest (name order,
  // with its size and SHA-256): what a writer that staged files from several ranks calls once
  // all of them are written. `manifest` carries the run's fields; its file list is replaced.
  void commit_staged(int64_t step, CheckpointManifest manifest) const;

  // Steps of the committed checkpoints, ascending.
  std::vector<int64_t> committed_steps() const;

  // The newest committed checkpoint's directory, if any.
  std::optional<std::string> latest() const;

  // Parses and verifies the checkpoint in `dir` (a directory, its manifest a regular file within
  // kMaxManifestBytes, every listed file regular with the listed size and SHA-256); throws
  // ConfigError naming the directory, the file and what does not match.
  static CheckpointManifest verify(const std::string& dir);

 private:
  void prune() const;

  std::string root_;
  int keep_last_;
};

}  // namespace switchyard::train
