// SentencePiece and Switchyard's own protobuf code in one process, as in the `switchyard`
// binary. Debian's libsentencepiece.so.0 carries its own copy of protobuf-lite 3.14 and exports
// every google::protobuf symbol of it; Switchyard's generated code needs the system's protobuf
// 3.21. With both runtimes as shared libraries, one copy's symbols replace the other's for the
// whole process, and the first model loaded (or config parsed) ends the process in protobuf's
// version check. The build links protobuf statically and keeps its symbols out of the dynamic
// symbol table (top-level CMakeLists.txt), so each side binds to its own copy; this test
// parses a config and uses a SentencePiece model, in both orders, in one process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/config_loader.h"
#include "tests/train/data/data_test_util.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/data/sentencepiece_train.h"

namespace switchyard::train::data {
namespace {

using testing::ScratchDir;

TEST(ProtobufCoexistence, ConfigsAndSentencePieceModelsWorkInOneProcess) {
  const auto config = config::parse_text_config("model { vocab_size: 300 }", "inline");
  EXPECT_EQ(config.model().vocab_size(), 300);
  ScratchDir s;
  SentencePieceTrainOptions o;
  o.inputs = {s.write("in.txt", testing::shakespeare(30000))};
  o.output_prefix = s.path("m");
  o.vocab_size = 300;
  const auto model = SentencePieceTokenizer::load(train_sentencepiece(o).model_path);
  EXPECT_EQ(model->decode(model->encode("First Citizen:")), "First Citizen:");
  const auto again = config::parse_text_config("model { vocab_size: 301 }", "inline");
  EXPECT_EQ(again.model().vocab_size(), 301);
  EXPECT_EQ(again.DebugString().find("vocab_size: 301") != std::string::npos, true);
}

}  // namespace
}  // namespace switchyard::train::data
