// Disk faults: checkpoints, metrics and plots written to a full filesystem (a 256 KiB tmpfs the
// test mounts; skipped where mounting is not permitted) fail with one line naming the file, and
// the previous checkpoint stays intact and loadable.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "train/checkpoint_store.h"
#include "train/metrics.h"

namespace switchyard::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = ::testing::TempDir() + "/full_disk_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(mount_);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=256k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << ")";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
  }

  // Fills what is left of the filesystem with one file; returns its path.
  std::string fill(const std::string& name) const {
    const std::string path = mount_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    const std::string block(4096, 'x');
    while (out.write(block.data(), block.size())) {
    }
    return path;
  }

  static CheckpointManifest manifest(int64_t step) {
    CheckpointManifest m;
    m.set_step(step);
    m.set_data_position(step);
    return m;
  }

  std::string mount_;
  bool mounted_ = false;
};

void expect_one_line(const std::string& message, const std::string& names) {
  EXPECT_THAT(message, Not(HasSubstr("\n")));
  EXPECT_THAT(message, HasSubstr(names));
  EXPECT_THAT(message, HasSubstr("No space left on device"));
}

// The previous checkpoint verifies and reads back with its values.
void expect_intact(const CheckpointStore& store, int64_t step, float value) {
  ASSERT_EQ(store.latest(), store.committed_dir(step));
  EXPECT_NO_THROW(CheckpointStore::verify(store.committed_dir(step)));
  const at::Tensor w =
      read_safetensors(store.committed_dir(step) + "/dense.safetensors").tensors.at("w");
  EXPECT_TRUE(at::equal(w, at::full({1024}, value)));
}

TEST_F(FullDisk, CheckpointDataFileFailsAndThePreviousCheckpointStaysLoadable) {
  const CheckpointStore store(mount_ + "/checkpoints", 3);
  store.begin(1);
  store.write_file(1, "dense.safetensors", {{"w", at::full({1024}, 1.5f)}});  // 4 KiB
  store.commit_staged(1, manifest(1));
  expect_intact(store, 1, 1.5f);

  store.begin(2);
  try {
    store.write_file(2, "dense.safetensors", {{"w", at::zeros({512 * 1024})}});  // 2 MiB
    ADD_FAILURE() << "a 2 MiB file was written to a 256 KiB filesystem";
  } catch (const Error& e) {
    expect_one_line(e.what(), store.staging_dir(2) + "/dense.safetensors");
  }
  // The partial file is gone (its space is free again) and step 1 is still the newest.
  EXPECT_FALSE(fs::exists(store.staging_dir(2) + "/dense.safetensors"));
  expect_intact(store, 1, 1.5f);
  // A checkpoint that fits can be saved right after.
  store.begin(3);
  store.write_file(3, "dense.safetensors", {{"w", at::full({1024}, 3.0f)}});
  store.commit_staged(3, manifest(3));
  expect_intact(store, 3, 3.0f);
  EXPECT_NO_THROW(CheckpointStore::verify(store.committed_dir(1)));
}

TEST_F(FullDisk, CheckpointManifestFailsAndThePreviousCheckpointStaysLoadable) {
  const CheckpointStore store(mount_ + "/checkpoints", 3);
  store.begin(1);
  store.write_file(1, "dense.safetensors", {{"w", at::full({1024}, 0.25f)}});
  store.commit_staged(1, manifest(1));
  store.begin(2);
  store.write_file(2, "dense.safetensors", {{"w", at::full({1024}, 0.5f)}});
  const std::string filler = fill("filler");  // the manifest no longer fits
  EXPECT_THROW(store.commit_staged(2, manifest(2)), Error);
  EXPECT_EQ(store.committed_steps(), std::vector<int64_t>{1});
  expect_intact(store, 1, 0.25f);
  fs::remove(filler);
  EXPECT_NO_THROW(store.commit_staged(2, manifest(2)));
  expect_intact(store, 2, 0.5f);
}

TEST_F(FullDisk, MetricsWriteFailsWithOneLineAndKeepsEarlierRecords) {
  const std::string path = mount_ + "/run/metrics.jsonl";
  MetricsWriter metrics(path);
  metrics.write({{"step", 1}, {"loss", 2.5}});
  const std::string filler = fill("filler");
  const nlohmann::json big = {{"step", 2}, {"blob", std::string(64 * 1024, 'y')}};
  try {
    for (int i = 0; i < 8; ++i) metrics.write(big);
    ADD_FAILURE() << "metrics written past a full disk without an error";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), Not(HasSubstr("\n")));
    EXPECT_THAT(std::string(e.what()), HasSubstr(path));
  }
  std::ifstream in(path);
  std::string first;
  ASSERT_TRUE(std::getline(in, first));
  EXPECT_EQ(nlohmann::json::parse(first).at("loss").get<double>(), 2.5);
}

}  // namespace
}  // namespace switchyard::train
