// Shared by the tests of train/data/: a scratch directory per test, files in it, the message of
// a refusal, and a slice of the bundled corpus.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "core/errors.h"

namespace switchyard::train::data::testing {

class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "/train_data_" + info->test_suite_name() + "_" + info->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories(std::filesystem::path(path(name)).parent_path());
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
  // The names of the directory's entries, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string dir_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The first `bytes` bytes of the bundled tiny-shakespeare corpus, cut after a line.
inline std::string shakespeare(size_t bytes) {
  std::string text = read_file(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
  text.resize(std::min(bytes, text.size()));
  const size_t nl = text.rfind('\n');
  if (nl != std::string::npos) text.resize(nl + 1);
  return text;
}

// The ConfigError message of `f`, "<accepted>" when it throws nothing. Any ConfigError message
// must be one line.
inline std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  return "<accepted>";
}

}  // namespace switchyard::train::data::testing
