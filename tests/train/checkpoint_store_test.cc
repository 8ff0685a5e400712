#include "train/checkpoint_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"

namespace switchyard::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/ckpt_" + name;
  fs::remove_all(dir);
  return dir;
}

void save(const CheckpointStore& store, int64_t step, float value) {
  store.begin(step);
  CheckpointManifest m;
  m.set_step(step);
  m.set_data_position(step);
  *m.add_files() = store.write_file(step, "model.safetensors", {{"w", at::full({64}, value)}});
  *m.add_files() = store.write_file(step, "optimizer.safetensors", {{"m", at::full({8}, value)}});
  store.commit(step, m);
}

std::string verify_error(const std::string& dir) {
  try {
    CheckpointStore::verify(dir);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  return "<no error>";
}

TEST(CheckpointStore, CommitsVerifiesAndKeepsTheLastK) {
  const CheckpointStore store(fresh_dir("keep"), 2);
  EXPECT_FALSE(store.latest().has_value());
  for (int64_t step : {10, 20, 30}) save(store, step, static_cast<float>(step));
  EXPECT_EQ(store.committed_steps(), (std::vector<int64_t>{20, 30}));
  ASSERT_TRUE(store.latest().has_value());
  const CheckpointManifest m = CheckpointStore::verify(*store.latest());
  EXPECT_EQ(m.step(), 30);
  EXPECT_EQ(m.files_size(), 2);
  const auto w = read_safetensors(*store.latest() + "/model.safetensors").tensors.at("w");
  EXPECT_TRUE(at::equal(w, at::full({64}, 30.0f)));
}

TEST(CheckpointStore, StagingDirectoriesAreNeverCheckpoints) {
  const CheckpointStore store(fresh_dir("staging"), 3);
  save(store, 5, 1.0f);
  store.begin(6);  // a save that never commits (crash)
  store.write_file(6, "model.safetensors", {{"w", at::ones({4})}});
  EXPECT_EQ(store.committed_steps(), (std::vector<int64_t>{5}));
  save(store, 6, 2.0f);  // the next save replaces the leftover staging directory
  EXPECT_EQ(store.committed_steps(), (std::vector<int64_t>{5, 6}));
  EXPECT_FALSE(fs::exists(store.staging_dir(6)));
}

TEST(CheckpointStore, ResavingTheSameStepReplacesIt) {
  const CheckpointStore store(fresh_dir("resave"), 3);
  save(store, 7, 1.0f);
  save(store, 7, 2.0f);
  const auto w = read_safetensors(store.committed_dir(7) + "/model.safetensors").tensors.at("w");
  EXPECT_EQ(w[0].item<float>(), 2.0f);
}

TEST(CheckpointStore, RefusesCorruptedOrIncompleteCheckpoints) {
  const CheckpointStore store(fresh_dir("corrupt"), 3);
  save(store, 1, 1.0f);
  const std::string dir = store.committed_dir(1);
  {  // flip one byte inside the tensor data
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  EXPECT_THAT(verify_error(dir), HasSubstr("'model.safetensors' is corrupted"));
  fs::resize_file(dir + "/model.safetensors", 10);
  EXPECT_THAT(verify_error(dir), HasSubstr("has 10 bytes"));
  fs::remove(dir + "/optimizer.safetensors");
  fs::remove(dir + "/model.safetensors");
  EXPECT_THAT(verify_error(dir), HasSubstr("is missing"));
  std::ofstream(dir + "/manifest.pbtxt") << "step: \"x\"";
  EXPECT_THAT(verify_error(dir), HasSubstr("does not parse"));
  std::ofstream(dir + "/manifest.pbtxt") << "format_version: 99 step: 1";
  EXPECT_THAT(verify_error(dir), HasSubstr("format version 99"));
}

// A writer killed with SIGKILL at arbitrary moments never leaves a corrupted newest checkpoint:
// whatever latest() returns verifies, and its contents are those of a complete save.
TEST(CheckpointStore, SigkillDuringSavesNeverCorruptsTheLatest) {
  const std::string root = fresh_dir("sigkill");
  for (int trial = 0; trial < 12; ++trial) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const CheckpointStore store(root, 2);
      for (int64_t step = 100 * trial;; ++step) save(store, step, static_cast<float>(step));
    }
    usleep(2000 + 3000 * trial);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    const CheckpointStore store(root, 2);
    const auto latest = store.latest();
    if (!latest) continue;  // killed before the first commit
    const CheckpointManifest m = CheckpointStore::verify(*latest);
    const auto w = read_safetensors(*latest + "/model.safetensors").tensors.at("w");
    EXPECT_TRUE(at::equal(w, at::full({64}, static_cast<float>(m.step()))));
  }
}

}  // namespace
}  // namespace switchyard::train
