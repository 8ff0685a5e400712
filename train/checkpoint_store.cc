#include "train/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <google/protobuf/text_format.h>

#include "core/check.h"
#include "core/errors.h"
#include "core/input_file.h"
#include "train/manifest_reader.h"
#include "train/sha256.h"

namespace switchyard::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "manifest.pbtxt";

std::string step_name(const char* prefix, int64_t step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%08lld", prefix, static_cast<long long>(step));
  return buf;
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "' to fsync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error("cannot fsync '" + path + "': " + std::strerror(errno));
}

void write_text_file(const std::string& path, const std::string& text) {
  {
    errno = 0;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      // A full disk: no partial file is left behind to be taken for a written one.
      const int err = errno;
      out.close();
      ::unlink(path.c_str());
      throw Error("cannot write '" + path + "'" +
                  (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
    }
  }
  fsync_path(path);
}

}  // namespace

CheckpointStore::CheckpointStore(std::string root, int keep_last)
    : root_(std::move(root)), keep_last_(keep_last) {
  SY_CHECK_GT(keep_last_, 0);
}

std::string CheckpointStore::staging_dir(int64_t step) const {
  return (fs::path(root_) / step_name(".staging-step-", step)).string();
}

std::string CheckpointStore::committed_dir(int64_t step) const {
  return (fs::path(root_) / step_name("step-", step)).string();
}

void CheckpointStore::begin(int64_t step) const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw Error("cannot create checkpoint directory '" + root_ + "': " + ec.message());
  const std::string staging = staging_dir(step);
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec) || ec) {
    throw Error("cannot create '" + staging + "': " + ec.message());
  }
}

CheckpointFile CheckpointStore::write_file(int64_t step,
                                           const std::string& name,
                                           const NamedTensors& tensors) const {
  SY_CHECK(name.find('/') == std::string::npos) << name;
  const std::string path = (fs::path(staging_dir(step)) / name).string();
  CheckpointFile entry;
  entry.set_name(name);
  entry.set_bytes(write_safetensors(path, tensors));
  entry.set_sha256(sha256_file(path));
  return entry;
}

void CheckpointStore::commit(int64_t step, const CheckpointManifest& manifest) const {
  SY_CHECK_EQ(manifest.step(), step);
  const std::string staging = staging_dir(step);
  CheckpointManifest m = manifest;
  m.set_format_version(kFormatVersion);
  std::string text;
  google::protobuf::TextFormat::PrintToString(m, &text);
  write_text_file((fs::path(staging) / kManifest).string(), text);
  fsync_path(staging);
  const std::string final_dir = committed_dir(step);
  std::error_code ec;
  if (fs::exists(final_dir)) {
    // Saving the same step again (e.g. after a resume): move the old one aside first, since
    // rename() cannot replace a non-empty directory.
    const std::string old = final_dir + ".replaced";
    fs::remove_all(old, ec);
    fs::rename(final_dir, old, ec);
    if (ec) throw Error("cannot replace '" + final_dir + "': " + ec.message());
    fs::rename(staging, final_dir, ec);
    fs::remove_all(old);
  } else {
    fs::rename(staging, final_dir, ec);
  }
  if (ec) throw Error("cannot commit checkpoint '" + final_dir + "': " + ec.message());
  fsync_path(root_);
  prune();
}

void CheckpointStore::commit_staged(int64_t step, CheckpointManifest manifest) const {
  const std::string staging = staging_dir(step);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(staging)) {
    // A manifest left by a commit that failed (disk full) is rewritten, not listed.
    if (e.path().filename() != kManifest) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  manifest.clear_files();
  for (const std::string& name : names) {
    const std::string path = (fs::path(staging) / name).string();
    CheckpointFile* f = manifest.add_files();
    f->set_name(name);
    f->set_bytes(static_cast<int64_t>(fs::file_size(path)));
    f->set_sha256(sha256_file(path));
  }
  commit(step, manifest);
}

std::vector<int64_t> CheckpointStore::committed_steps() const {
  std::vector<int64_t> steps;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return steps;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step-", 0) != 0 || name.size() != 13) continue;
    if (name.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    if (!fs::exists(entry.path() / kManifest)) continue;
    steps.push_back(std::stoll(name.substr(5)));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::optional<std::string> CheckpointStore::latest() const {
  const std::vector<int64_t> steps = committed_steps();
  if (steps.empty()) return std::nullopt;
  return committed_dir(steps.back());
}

void CheckpointStore::prune() const {
  const std::vector<int64_t> steps = committed_steps();
  for (size_t i = 0; i + keep_last_ < steps.size(); ++i) fs::remove_all(committed_dir(steps[i]));
}

CheckpointManifest CheckpointStore::verify(const std::string& dir) {
  require_directory(dir, "checkpoint directory");
  const std::string manifest_path = (fs::path(dir) / kManifest).string();
  std::string text;
  try {
    text = read_input_file({manifest_path, "checkpoint manifest", kMaxManifestBytes, ""});
  } catch (const ConfigError& e) {
    throw ConfigError(dir,
                      std::string("checkpoint has no readable ") + kManifest + ": " + e.reason());
  }
  const CheckpointManifest m = parse_manifest(text, dir);
  for (const CheckpointFile& f : m.files()) {
    const std::string path = (fs::path(dir) / f.name()).string();
    uint64_t size = 0;
    try {
      size = check_input_file(
          {path, "checkpoint data file", std::numeric_limits<uint64_t>::max(), ""});
    } catch (const ConfigError& e) {
      throw ConfigError(dir,
                        "checkpoint file '" + f.name() + "' is missing or unusable: " + e.reason());
    }
    if (static_cast<int64_t>(size) != f.bytes()) {
      throw ConfigError(dir, "checkpoint file '" + f.name() + "' has " + std::to_string(size) +
                                 " bytes, the manifest says " + std::to_string(f.bytes()));
    }
    const std::string digest = sha256_file(path);
    if (digest != f.sha256()) {
      throw ConfigError(dir, "checkpoint file '" + f.name() + "' is corrupted (SHA-256 " + digest +
                                 ", the manifest says " + f.sha256() + ")");
    }
  }
  return m;
}

}  // namespace switchyard::train
