#include "core/config/config_overrides.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/experiment.pb.h"
#include "core/errors.h"

namespace switchyard::config {
namespace {

using ::testing::HasSubstr;

std::string error_of(ExperimentConfig* c, const std::string& assignment) {
  try {
    apply_override(c, assignment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ConfigOverrides, SetsScalarsEnumsBoolsAndStrings) {
  ExperimentConfig c;
  apply_overrides(
      &c, {"model.moe.router.top_k=4", "comm.all_to_all=HIERARCHICAL", "model.tie_embeddings=false",
           "data.path=/tmp/some file.txt", "train.optimizer.learning_rate=3e-4", "train.seed=42"});
  EXPECT_EQ(c.model().moe().router().top_k(), 4);
  EXPECT_EQ(c.comm().all_to_all(), CommConfig::HIERARCHICAL);
  EXPECT_FALSE(c.model().tie_embeddings());
  EXPECT_EQ(c.data().path(), "/tmp/some file.txt");
  EXPECT_FLOAT_EQ(c.train().optimizer().learning_rate(), 3e-4f);
  EXPECT_EQ(c.train().seed(), 42u);
}

TEST(ConfigOverrides, LaterOverrideWins) {
  ExperimentConfig c;
  apply_overrides(&c, {"model.hidden_size=64", "model.hidden_size=32"});
  EXPECT_EQ(c.model().hidden_size(), 32);
}

TEST(ConfigOverrides, RepeatedFieldsTakeAList) {
  ExperimentConfig c;
  apply_override(&c, "model.moe.aux_loss.dpsl.concentration=[0.5, 1, 2]");
  ASSERT_EQ(c.model().moe().aux_loss().dpsl().concentration_size(), 3);
  EXPECT_FLOAT_EQ(c.model().moe().aux_loss().dpsl().concentration(2), 2.0f);
  apply_override(&c, "model.moe.aux_loss.dpsl.concentration=0.25");
  ASSERT_EQ(c.model().moe().aux_loss().dpsl().concentration_size(), 1);
  apply_override(&c, "model.moe.aux_loss.dpsl.concentration=[]");
  EXPECT_EQ(c.model().moe().aux_loss().dpsl().concentration_size(), 0);
}

TEST(ConfigOverrides, UnknownPathNamesTheFirstUnknownPart) {
  ExperimentConfig c;
  EXPECT_THAT(error_of(&c, "model.moe.rooter.top_k=2"), HasSubstr("model.moe.rooter"));
  EXPECT_THAT(error_of(&c, "nonsense=1"), HasSubstr("nonsense"));
}

TEST(ConfigOverrides, BadValueTypeNamesPathAndType) {
  ExperimentConfig c;
  const std::string e = error_of(&c, "model.hidden_size=wide");
  EXPECT_THAT(e, HasSubstr("model.hidden_size"));
  EXPECT_THAT(e, HasSubstr("int32"));
  EXPECT_THAT(error_of(&c, "comm.backend=GLOO"), HasSubstr("one of: MPI, NCCL"));
  EXPECT_THAT(error_of(&c, "model.tie_embeddings=maybe"), HasSubstr("model.tie_embeddings"));
  EXPECT_THAT(error_of(&c, "model.hidden_size="), HasSubstr("empty value"));
  EXPECT_THAT(error_of(&c, "model.hidden_size=99999999999"), HasSubstr("model.hidden_size"));
}

TEST(ConfigOverrides, StructuralMistakes) {
  ExperimentConfig c;
  EXPECT_THAT(error_of(&c, "model.hidden_size.x=1"), HasSubstr("is not a message"));
  EXPECT_THAT(error_of(&c, "model.moe=1"), HasSubstr("is a message"));
  EXPECT_THAT(error_of(&c, "model.hidden_size"), HasSubstr("expected path.to.field=value"));
  // Found by fuzzing (tests/fuzz/corpus/set_override/regression_empty_path_component.txt): an
  // empty component used to give an error naming an empty path.
  for (const char* bad : {".x=1", "model..hidden_size=1", "model.=1", " =1"}) {
    EXPECT_THAT(error_of(&c, bad), HasSubstr("--set " + std::string(bad) + ": empty field name"))
        << bad;
  }
}

TEST(ConfigOverrides, FailedOverrideLeavesFieldUnchanged) {
  ExperimentConfig c;
  apply_override(&c, "model.hidden_size=64");
  error_of(&c, "model.hidden_size=abc");
  EXPECT_EQ(c.model().hidden_size(), 64);
}

}  // namespace
}  // namespace switchyard::config
