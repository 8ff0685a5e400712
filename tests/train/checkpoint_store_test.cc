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
#include "train/model_state.h"

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

// Persistent buffers: stored on the CPU under "buffer.<name>", restored in place; a version-2
// checkpoint must have every buffer, an older one leaves missing buffers untouched.
TEST(CheckpointStore, BuffersRoundTripInPlaceAndOldCheckpointsStayReadable) {
  const at::Tensor bias = at::arange(4, at::kFloat);
  const NamedTensors stored_list = buffer_tensors({{"moe.0.router.expert_bias", bias}});
  ASSERT_EQ(stored_list.size(), 1u);
  EXPECT_EQ(stored_list[0].first, "buffer.moe.0.router.expert_bias");
  EXPECT_TRUE(stored_list[0].second.device().is_cpu());
  std::map<std::string, at::Tensor> stored(stored_list.begin(), stored_list.end());
  at::Tensor live = at::zeros({4});
  const at::Tensor alias = live;
  EXPECT_TRUE(restore_buffers(stored, {{"moe.0.router.expert_bias", live}}, true).empty());
  EXPECT_TRUE(at::equal(alias, bias));  // in place
  at::Tensor other = at::full({2}, 7.0);
  const auto missing = restore_buffers(stored, {{"moe.1.router.expert_bias", other}}, false);
  EXPECT_EQ(missing, std::vector<std::string>{"moe.1.router.expert_bias"});
  EXPECT_TRUE(at::equal(other, at::full({2}, 7.0)));
  EXPECT_THROW(restore_buffers(stored, {{"moe.1.router.expert_bias", other}}, true), Error);
  // A version-1 manifest is still accepted by verify().
  const std::string dir = fresh_dir("version1");
  const CheckpointStore store(dir, 2);
  save(store, 3, 1.0f);
  const std::string manifest = store.committed_dir(3) + "/manifest.pbtxt";
  std::ifstream in(manifest);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("format_version: 2"));
  text.replace(text.find("format_version: 2"), 17, "format_version: 1");
  std::ofstream(manifest, std::ios::trunc) << text;
  EXPECT_EQ(CheckpointStore::verify(store.committed_dir(3)).format_version(), 1);
}

}  // namespace
}  // namespace switchyard::train
