#include "core/config/config_loader.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <functional>

#include "core/config/proto_paths.h"
#include "core/errors.h"

namespace switchyard::config {
namespace {

namespace pb = google::protobuf;
using ::testing::HasSubstr;

std::string default_config_path() {
  return std::string(SY_SOURCE_DIR) + "/examples/configs/default.pbtxt";
}

// Every optional field of every (nested) message is present.
void expect_all_fields_set(const pb::Message& message, const std::string& prefix) {
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) continue;
    const std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    EXPECT_TRUE(r->HasField(message, f)) << path;
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      expect_all_fields_set(r->GetMessage(message, f), path);
    }
  }
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ConfigLoader, LoadsTheDefaultExample) {
  const ExperimentConfig c = load_config_file(default_config_path());
  EXPECT_EQ(c.parallel().expert_parallel_size(), 4);
  EXPECT_EQ(c.model().moe().num_experts(), 8);
  EXPECT_EQ(c.comm().all_to_all(), CommConfig::HIERARCHICAL);
}

TEST(ConfigLoader, ResolvedTextHasEveryDefaultAndRoundTrips) {
  const ExperimentConfig c = load_config_file(default_config_path());
  const std::string text = resolved_config_text(c);
  const ExperimentConfig resolved = parse_text_config(text, "resolved");
  expect_all_fields_set(resolved, "");
  // Defaults not written in the example appear with their schema values.
  EXPECT_THAT(text, HasSubstr("backend: AUTO"));
  EXPECT_THAT(text, HasSubstr("beta2: 0.99"));
  EXPECT_EQ(resolved.model().moe().router().top_k(), 2);
  EXPECT_EQ(resolved.train().seed(), 1337u);
}

TEST(ConfigLoader, UnknownFieldNamesItsPath) {
  const std::string e =
      error_of([] { parse_text_config("model {\n  hiden_size: 3\n}\n", "x.pbtxt"); });
  EXPECT_THAT(e, HasSubstr("x.pbtxt:2:"));
  EXPECT_THAT(e, HasSubstr("model.hiden_size"));
}

TEST(ConfigLoader, WrongTypeNamesItsPath) {
  const std::string e =
      error_of([] { parse_text_config("train { optimizer { learning_rate: \"fast\" } }", "x"); });
  EXPECT_THAT(e, HasSubstr("train.optimizer.learning_rate"));
}

TEST(ConfigLoader, SyntaxErrorNamesPosition) {
  const std::string e = error_of([] { parse_text_config("model { hidden_size: 3\n", "x.pbtxt"); });
  EXPECT_THAT(e, HasSubstr("x.pbtxt:"));
  EXPECT_THAT(e, HasSubstr("model"));
}

TEST(ConfigLoader, BadEnumNamesItsPath) {
  const std::string e = error_of([] { parse_text_config("comm { backend: GLOO }", "x"); });
  EXPECT_THAT(e, HasSubstr("comm.backend"));
}

TEST(ConfigLoader, JsonMatchesText) {
  const ExperimentConfig from_json = parse_json_config(
      R"({"model": {"hidden_size": 64, "moe": {"router": {"kind": "GSHARD", "topK": 2}}},
          "train": {"seed": "7"}})",
      "x.json");
  const ExperimentConfig from_text = parse_text_config(
      "model { hidden_size: 64 moe { router { kind: GSHARD top_k: 2 } } } train { seed: 7 }", "x");
  EXPECT_EQ(from_json.SerializeAsString(), from_text.SerializeAsString());
}

TEST(ConfigLoader, JsonUnknownFieldNamesItsPath) {
  const std::string e =
      error_of([] { parse_json_config(R"({"model": {"hiden_size": 3}})", "x.json"); });
  EXPECT_THAT(e, HasSubstr("model.hiden_size"));
}

TEST(ConfigLoader, MissingFileIsAConfigError) {
  const std::string e = error_of([] { load_config_file("/nonexistent/config.pbtxt"); });
  EXPECT_THAT(e, HasSubstr("/nonexistent/config.pbtxt"));
}

TEST(ProtoPaths, TextPositionToPath) {
  const std::string text = "model {\n  moe { router { top_k: x } }\n}\n";
  // 0-based line 1, column of "x".
  EXPECT_EQ(text_field_path_at(text, 1, 24), "model.moe.router.top_k");
  EXPECT_EQ(text_field_path_at(text, 1, 26), "model.moe.router.top_k");
  EXPECT_EQ(text_field_path_at("# comment\ntrain {\n  seed: 1\n}\n", 2, 8), "train.seed");
}

}  // namespace
}  // namespace switchyard::config
