// core/input_file.h: every user-supplied path is checked for what it must be before it is read.
#include "core/input_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;

class InputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/input_file_test";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The ConfigError message of reading `file`, or "<read>" when it was read.
  static std::string error_of(const InputFile& file) {
    try {
      read_input_file(file);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<read>";
  }

  std::string dir_;
};

TEST_F(InputFileTest, ReadsARegularFileWhole) {
  std::ofstream(path("a.txt"), std::ios::binary) << std::string("a\0b\nc", 5);
  EXPECT_EQ(read_input_file({path("a.txt"), "config file", 100, ""}), std::string("a\0b\nc", 5));
  EXPECT_EQ(check_input_file({path("a.txt"), "config file", 100, ""}), 5u);
  std::ofstream(path("empty.txt")).close();
  EXPECT_EQ(read_input_file({path("empty.txt"), "config file", 0, ""}), "");
}

TEST_F(InputFileTest, RefusesWhatIsNotARegularFile) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  std::filesystem::create_symlink(path("gone"), path("dangling"));
  std::filesystem::create_directories(path("sub"));
  EXPECT_EQ(error_of({path("sub"), "config file", 100, ""}),
            path("sub") + ": is a directory, not a config file");
  // Opening a FIFO without a writer must not block (the test would time out).
  EXPECT_EQ(error_of({path("fifo"), "config file", 100, ""}),
            path("fifo") + ": is a FIFO (named pipe), not a config file");
  EXPECT_EQ(error_of({"/dev/zero", "config file", 100, ""}),
            "/dev/zero: is a character device, not a config file");
  EXPECT_EQ(error_of({path("dangling"), "config file", 100, ""}),
            path("dangling") + ": is a dangling symbolic link (to '" + path("gone") + "')");
  EXPECT_EQ(error_of({path("nothing"), "config file", 100, ""}),
            path("nothing") + ": does not exist");
  EXPECT_EQ(error_of({path("nothing/x"), "config file", 100, ""}),
            path("nothing/x") + ": does not exist");
  EXPECT_EQ(error_of({"", "config file", 100, ""}), ": is an empty path");
}

TEST_F(InputFileTest, RefusesAFileOverTheBoundBeforeReadingIt) {
  std::ofstream(path("big")).close();
  std::filesystem::resize_file(path("big"), 101);
  EXPECT_EQ(error_of({path("big"), "corpus", 100, ""}),
            path("big") + ": is 101 bytes, more than the bound of 100 bytes for a corpus");
  EXPECT_THROW(check_input_file({path("big"), "corpus", 100, ""}), ConfigError);
  EXPECT_EQ(read_input_file({path("big"), "corpus", 101, ""}).size(), 101u);
}

TEST_F(InputFileTest, NamesTheConfigFieldWhenGiven) {
  EXPECT_EQ(error_of({path("none"), "corpus", 100, "data.path"}),
            "data.path: '" + path("none") + "' does not exist");
}

TEST_F(InputFileTest, AnOpenedFileIsCheckedThenReadInPieces) {
  std::ofstream(path("c.txt"), std::ios::binary) << "hello world";
  OpenedInputFile f({path("c.txt"), "corpus", 100, ""});
  EXPECT_EQ(f.size(), 11u);
  char buf[4];
  std::string got;
  for (size_t n; (n = f.read(buf, sizeof buf)) > 0;) got.append(buf, n);
  EXPECT_EQ(got, "hello world");
  // The same refusals as read_input_file, before the object exists.
  EXPECT_THROW(OpenedInputFile({dir_, "corpus", 100, ""}), ConfigError);
  EXPECT_THROW(OpenedInputFile({"/dev/zero", "corpus", 100, ""}), ConfigError);
  EXPECT_THROW(OpenedInputFile({path("c.txt"), "corpus", 10, ""}), ConfigError);
}

TEST_F(InputFileTest, DirectoriesAreCheckedToo) {
  std::ofstream(path("file")).close();
  EXPECT_NO_THROW(require_directory(dir_, "run directory"));
  EXPECT_THROW(require_directory(path("file"), "run directory"), ConfigError);
  EXPECT_THROW(require_directory(path("none"), "run directory"), ConfigError);
  EXPECT_THROW(require_directory("/dev/null", "run directory"), ConfigError);
}

TEST(Utf8Text, AcceptsUtf8AndRefusesEverythingElseWithTheOffset) {
  EXPECT_NO_THROW(require_utf8_text("plain ascii\n", "f"));
  EXPECT_NO_THROW(require_utf8_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "f"));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"caf\xe9", "invalid byte 0xe9 at offset 3"},           // Latin-1
      {"\xc3", "invalid byte 0xc3 at offset 0"},              // truncated sequence
      {"ab\xc0\xaf", "invalid byte 0xc0 at offset 2"},        // overlong '/'
      {"\xed\xa0\x80", "invalid byte 0xed at offset 0"},      // UTF-16 surrogate
      {"\xf4\x90\x80\x80", "invalid byte 0xf4 at offset 0"},  // above U+10FFFF
      {"\x80", "invalid byte 0x80 at offset 0"},              // lone continuation
      {std::string("a\0b", 3), "NUL byte at offset 1"},
  };
  for (const auto& [text, reason] : bad) {
    try {
      require_utf8_text(text, "f.pbtxt");
      ADD_FAILURE() << "accepted " << ::testing::PrintToString(text);
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr("f.pbtxt: ")) << e.what();
      EXPECT_THAT(e.what(), HasSubstr(reason)) << e.what();
    }
  }
}

TEST(ConfigErrorMessage, IsAlwaysOneLine) {
  const ConfigError e("a\nb", "value 'x\ny\r\tz' is bad");
  EXPECT_STREQ(e.what(), "a\\nb: value 'x\\ny\\r\\x09z' is bad");
  EXPECT_EQ(e.path(), "a\\nb");
}

}  // namespace
}  // namespace switchyard
