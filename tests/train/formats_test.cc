// The torch-free readers of checkpoint and data files: the checkpoint manifest (what a manifest
// may name) and token files (train/token_file.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"
#include "train/manifest_reader.h"
#include "train/token_file.h"

namespace switchyard::train {
namespace {

using ::testing::HasSubstr;

const std::string kSha(64, 'a');

std::string manifest_error(const std::string& text) {
  try {
    parse_manifest(text, "ckpt");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<accepted>";
}

TEST(ManifestReader, AcceptsAWrittenManifest) {
  const CheckpointManifest m = parse_manifest(
      "format_version: 2 step: 5 files { name: \"a\" "
      "sha256: \"" +
          kSha + "\" bytes: 3 }",
      "ckpt");
  EXPECT_EQ(m.step(), 5);
  ASSERT_EQ(m.files_size(), 1);
  EXPECT_EQ(m.files(0).name(), "a");
}

TEST(ManifestReader, RefusesFilesOutsideTheDirectoryAndBadEntries) {
  auto file = [](const std::string& name, const std::string& sha, int64_t bytes) {
    return "files { name: \"" + name + "\" sha256: \"" + sha +
           "\" bytes: " + std::to_string(bytes) + " }";
  };
  const std::string v2 = "format_version: 2 ";
  EXPECT_THAT(manifest_error(v2 + file("../x", kSha, 1)), HasSubstr("invalid file name '../x'"));
  EXPECT_THAT(manifest_error(v2 + file("/etc/passwd", kSha, 1)), HasSubstr("invalid file name"));
  EXPECT_THAT(manifest_error(v2 + file("..", kSha, 1)), HasSubstr("invalid file name"));
  EXPECT_THAT(manifest_error(v2 + file("", kSha, 1)), HasSubstr("invalid file name"));
  EXPECT_THAT(manifest_error(v2 + file("manifest.pbtxt", kSha, 1)), HasSubstr("invalid file"));
  EXPECT_THAT(manifest_error(v2 + file("a", kSha, 1) + file("a", kSha, 1)), HasSubstr("twice"));
  EXPECT_THAT(manifest_error(v2 + file("a", kSha, -1)), HasSubstr("negative size"));
  EXPECT_THAT(manifest_error(v2 + file("a", "ABC", 1)), HasSubstr("64 lower-case hex"));
  EXPECT_THAT(manifest_error(v2 + file("a", std::string(64, 'A'), 1)), HasSubstr("hex"));
  EXPECT_THAT(manifest_error("format_version: 3"), HasSubstr("format version 3"));
  EXPECT_THAT(manifest_error("format_version: 0"), HasSubstr("format version 0"));
  EXPECT_THAT(manifest_error("format_version: 2 step: -1"), HasSubstr("negative step"));
  EXPECT_THAT(manifest_error("files {"), HasSubstr("does not parse"));
  // An empty file list is a valid (if useless) manifest.
  EXPECT_EQ(manifest_error("format_version: 2"), "<accepted>");
}

TEST(TokenFile, DecodesUint16LittleEndianAndChecksTheVocabulary) {
  const std::string bytes("\x01\x00\xff\x00\x00\x01", 6);
  ASSERT_EQ(token_count(bytes.size(), CorpusFormat::kTokensU16, "t"), 3);
  int64_t ids[3];
  decode_tokens(bytes, CorpusFormat::kTokensU16, 257, "t", ids);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 255);
  EXPECT_EQ(ids[2], 256);
  try {
    decode_tokens(bytes, CorpusFormat::kTokensU16, 256, "t.bin", ids);
    ADD_FAILURE() << "id 256 accepted with vocab 256";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("token id 256 at position 2 of 't.bin'"));
  }
  EXPECT_THROW(token_count(3, CorpusFormat::kTokensU16, "t"), ConfigError);
}

TEST(TokenFile, TextIsOneUnsignedTokenPerByte) {
  const std::string text = "caf\xc3\xa9";
  const std::vector<int64_t> ids = encode_text(text);
  EXPECT_EQ(ids, (std::vector<int64_t>{'c', 'a', 'f', 0xc3, 0xa9}));
  EXPECT_EQ(decode_text(ids), text);
  EXPECT_EQ(decode_text({65, 300, -1}), "A??");
  int64_t out[5];
  decode_tokens(text, CorpusFormat::kText, 256, "t", out);
  EXPECT_EQ(out[3], 0xc3);
  EXPECT_THROW(decode_tokens(text, CorpusFormat::kText, 255, "t", out), ConfigError);
}

}  // namespace
}  // namespace switchyard::train
