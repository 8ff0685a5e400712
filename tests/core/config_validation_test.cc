#include "core/config/config_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/config_loader.h"
#include "core/config/config_overrides.h"
#include "core/errors.h"

namespace switchyard::config {
namespace {

using ::testing::HasSubstr;

ExperimentConfig default_config() {
  ExperimentConfig c =
      load_config_file(std::string(SY_SOURCE_DIR) + "/examples/configs/default.pbtxt");
  c.mutable_data()->set_path(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
  return c;
}

ValidationContext context(int world_size) {
  ValidationContext ctx;
  ctx.world_size = world_size;
  return ctx;
}

TEST(ConfigValidation, DefaultExampleIsValid) {
  const auto issues = find_config_issues(default_config(), context(4));
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.reason;
}

// SMILE and LocMoE examples (4 ranks emulating 2 nodes x 2).
TEST(ConfigValidation, SmileAndLocMoEExamplesAreValid) {
  for (const char* name : {"smile", "locmoe"}) {
    ExperimentConfig c =
        load_config_file(std::string(SY_SOURCE_DIR) + "/examples/configs/" + name + ".pbtxt");
    c.mutable_data()->set_path(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
    const auto issues = find_config_issues(c, context(4));
    for (const auto& i : issues) ADD_FAILURE() << name << " " << i.path << ": " << i.reason;
  }
}

TEST(ConfigValidation, SchemaDefaultsAreValidOnOneRank) {
  ExperimentConfig c;
  c.mutable_data()->set_path(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
  const auto issues = find_config_issues(c, context(1));
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.reason;
}

// data.blend (a repeated message: set in files, not with --set).
TEST(ConfigValidation, BlendRules) {
  auto first_issue = [](const std::vector<std::pair<std::string, double>>& blend,
                        bool indexed) -> std::pair<std::string, std::string> {
    ExperimentConfig c = default_config();
    if (indexed) c.mutable_data()->set_format(DataConfig::INDEXED);
    for (const auto& [path, weight] : blend) {
      DataConfig::BlendSource* s = c.mutable_data()->add_blend();
      s->set_path(path);
      s->set_weight(weight);
    }
    const auto issues = find_config_issues(c, context(4));
    if (issues.empty()) return {"", ""};
    return {issues.front().path, issues.front().reason};
  };
  EXPECT_EQ(first_issue({{"/nonexistent/a", 1}}, false),
            (std::pair<std::string, std::string>{"data.blend", "needs data.format: INDEXED"}));
  EXPECT_EQ(first_issue({{"/nonexistent/a", -1}}, true).first, "data.blend[0].weight");
  EXPECT_EQ(first_issue({{"/nonexistent/a", 0}, {"/nonexistent/b", 0}}, true),
            (std::pair<std::string, std::string>{"data.blend", "every weight is 0"}));
  EXPECT_EQ(first_issue({{"/nonexistent/a", 1}, {"", 1}}, true).first, "data.blend[1].path");
  const auto missing = first_issue({{"/nonexistent/a", 1}}, true);
  EXPECT_EQ(missing.first, "data.blend[0].path");
  EXPECT_THAT(missing.second, HasSubstr("'/nonexistent/a.idx' does not exist"));
}

struct Case {
  std::vector<std::string> overrides;
  int world_size;
  std::string path;    // expected field path of the first issue
  std::string reason;  // expected part of its reason
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.path; }
};

class ConfigRule : public ::testing::TestWithParam<Case> {};

TEST_P(ConfigRule, IsReportedWithFieldPath) {
  const Case& param = GetParam();
  ExperimentConfig c = default_config();
  apply_overrides(&c, param.overrides);
  const auto issues = find_config_issues(c, context(param.world_size));
  ASSERT_FALSE(issues.empty()) << "no issue for " << ::testing::PrintToString(param.overrides);
  EXPECT_EQ(issues.front().path, param.path);
  EXPECT_THAT(issues.front().reason, HasSubstr(param.reason));
  try {
    validate_config(c, context(param.world_size));
    ADD_FAILURE() << "validate_config did not throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), param.path);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "message must be one line";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules,
    ConfigRule,
    ::testing::Values(
        Case{{"model.moe.router.top_k=9"}, 4, "model.moe.router.top_k", "<= model.moe.num_experts"},
        Case{{"model.moe.num_experts=6"}, 4, "model.moe.num_experts", "multiple of"},
        Case{{"model.hidden_size=0"}, 4, "model.hidden_size", "must be positive"},
        Case{{"model.hidden_size=-8"}, 4, "model.hidden_size", "must be positive"},
        Case{
            {"train.optimizer.learning_rate=-0.1"}, 4, "train.optimizer.learning_rate", "positive"},
        Case{{"data.path=/nonexistent/corpus.txt"}, 4, "data.path", "does not exist"},
        Case{{"data.path=/tmp"}, 4, "data.path", "is a directory, not a corpus"},
        Case{{"data.tokenizer=SENTENCEPIECE"}, 4, "data.tokenizer_model", "must name"},
        Case{{"data.tokenizer_model=x.model"}, 4, "data.tokenizer_model", "data.tokenizer is BYTE"},
        Case{{"data.tokenizer=SENTENCEPIECE", "data.tokenizer_model=/nonexistent/x.model"},
             4,
             "data.tokenizer_model",
             "does not exist"},
        Case{{"data.tokenizer=SENTENCEPIECE", "data.tokenizer_model=/tmp"},
             4,
             "data.tokenizer_model",
             "is a directory"},
        Case{{"data.format=INDEXED", "data.path=/nonexistent/ds"},
             4,
             "data.path",
             "'/nonexistent/ds.idx' does not exist"},
        Case{{"data.format=INDEXED", "data.path="}, 4, "data.path", "must name a dataset prefix"},
        Case{{"comm.ranks_per_node=3", "parallel.world_size=0", "parallel.expert_parallel_size=2",
              "train.global_batch_size=18"},
             6,
             "comm.ranks_per_node",
             "must divide parallel.expert_parallel_size"},
        Case{{"parallel.world_size=0"}, 5, "comm.ranks_per_node", "must divide the world size"},
        Case{{"parallel.world_size=0", "comm.ranks_per_node=0"},
             6,
             "parallel.expert_parallel_size",
             "must divide the world size"},
        Case{{}, 8, "parallel.world_size", "but the job runs 8 ranks"},
        Case{{"train.global_batch_size=10"},
             4,
             "train.global_batch_size",
             "divisible by the world size"},
        Case{{"model.num_heads=3"}, 4, "model.num_heads", "must divide model.hidden_size"},
        Case{{"model.positions=ROTARY", "model.num_heads=128"},
             4,
             "model.positions",
             "even head size"},
        Case{{"model.dropout=1"}, 4, "model.dropout", "[0, 1)"},
        Case{{"model.moe.router.kind=GSHARD", "model.moe.router.top_k=1"},
             4,
             "model.moe.router.top_k",
             "must be 2 for kind GSHARD"},
        Case{{"model.moe.router.kind=STABLEMOE"}, 4, "model.moe.router.top_k", "must be 1"},
        Case{{"model.moe.router.kind=EXPERT_CHOICE", "model.moe.dispatcher.batch_independent=true"},
             4,
             "model.moe.dispatcher.batch_independent",
             "EXPERT_CHOICE"},
        Case{{"model.moe.dispatcher.shuffle_tokens=true",
              "model.moe.dispatcher.batch_independent=true"},
             4,
             "model.moe.dispatcher.shuffle_tokens",
             "batch_independent"},
        Case{{"model.moe.dispatcher.shuffle_tokens=true",
              "model.moe.aux_loss.load_balancing=SEQUENCE"},
             4,
             "model.moe.dispatcher.shuffle_tokens",
             "SEQUENCE"},
        Case{{"model.moe.router.kind=SMILE", "model.moe.router.top_k=1",
              "model.moe.dispatcher.capacity_factor=1"},
             4,
             "model.moe.dispatcher.capacity_factor",
             "must be 0 for kind SMILE"},
        Case{{"model.moe.router.kind=LOCMOE", "model.moe.router.locmoe.capacity_bound=SET"},
             4,
             "model.moe.router.locmoe.capacity_bound",
             "SET needs a capacity-limited layer"},
        Case{{"model.moe.router.kind=LOCMOE", "model.moe.num_experts=12",
              "model.moe.router.locmoe.grouped_average_pooling=true"},
             4,
             "model.moe.router.locmoe.grouped_average_pooling",
             "divisible by model.moe.num_experts"},
        Case{{"model.moe.router.kind=LOCMOE", "comm.all_to_all=FLAT", "comm.ranks_per_node=3",
              "parallel.world_size=0", "parallel.expert_parallel_size=2",
              "train.global_batch_size=18"},
             6,
             "comm.ranks_per_node",
             "or be a multiple of it for kind LOCMOE"},
        Case{{"model.moe.aux_loss.erc.coeff=-1"}, 4, "model.moe.aux_loss.erc.coeff", ">= 0"},
        Case{{"model.moe.router.kind=EXPERT_CHOICE", "model.moe.dispatcher.capacity_factor=1",
              "model.moe.dispatcher.rectify.intra_rank=true"},
             4,
             "model.moe.dispatcher.rectify",
             "EXPERT_CHOICE"},
        Case{{"model.moe.router.group_limited.num_groups=4",
              "model.moe.router.group_limited.group_top_k=3", "model.moe.router.top_k=2"},
             4,
             "model.moe.router.group_limited.group_top_k",
             "must divide model.moe.router.top_k"},
        Case{{"parallel.intra_op_threads=0"}, 4, "parallel.intra_op_threads", "positive"},
        Case{{"model.moe.aux_loss.erc.alpha=-0.5"}, 4, "model.moe.aux_loss.erc.alpha", ">= 0"},
        // Issue 17 item 2: top-1 with renormalized gates (every gate 1, no router gradient).
        Case{{"model.moe.router.top_k=1"},
             4,
             "model.moe.router.normalize_top_k",
             "must be false with model.moe.router.top_k 1"},
        Case{{"model.moe.router.kind=LOCMOE", "model.moe.router.top_k=1"},
             4,
             "model.moe.router.normalize_top_k",
             "gate = router probability"},
        // Issue 17 item 3: ERC needs learned router rows; GrAP gating has none.
        Case{
            {"model.moe.router.kind=LOCMOE", "model.moe.router.locmoe.grouped_average_pooling=true",
             "model.moe.aux_loss.erc.coeff=1"},
            4,
            "model.moe.aux_loss.erc.coeff",
            "grouped_average_pooling"},
        Case{{"model.moe.aux_loss.dpsl.concentration=[1,1]"},
             4,
             "model.moe.aux_loss.dpsl.concentration",
             "one value per expert"},
        Case{{"model.moe.dispatcher.rectify.fill_in=true"},
             4,
             "model.moe.dispatcher.rectify",
             "capacity_factor > 0"},
        Case{{"model.moe.router.group_limited.num_groups=3"},
             4,
             "model.moe.router.group_limited.num_groups",
             "must divide"},
        Case{{"comm.timeout_ms=0"}, 4, "comm.timeout_ms", "positive"},
        Case{{"comm.backend=NCCL"}, 4, "comm.backend", "no NCCL backend"},
        Case{{"checkpoint.keep_last=0"}, 4, "checkpoint.keep_last", "positive"},
        Case{{"data.val_fraction=0"}, 4, "data.val_fraction", "(0, 1)"},
        Case{{"model.vocab_size=100"}, 4, "model.vocab_size", "BYTE tokenizer"},
        Case{{"train.optimizer.beta2=1"}, 4, "train.optimizer.beta2", "[0, 1)"},
        Case{{"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1",
              "model.moe.router.aux_free_bias.enabled=true"},
             4,
             "model.moe.router.aux_free_bias.enabled",
             "TOP_K only"},
        Case{{"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1",
              "model.moe.router.stablemoe.distilled_dim=0"},
             4,
             "model.moe.router.stablemoe.distilled_dim",
             "positive"},
        Case{{"model.moe.aux_loss.dpsl.coeff=0.1", "model.moe.num_experts=1",
              "model.moe.router.top_k=1", "model.moe.router.normalize_top_k=false",
              "parallel.expert_parallel_size=1", "comm.all_to_all=FLAT"},
             4,
             "model.moe.aux_loss.dpsl.coeff",
             "num_experts >= 2"},
        Case{{"model.moe.aux_loss.dpsl.symmetric_concentration=0"},
             4,
             "model.moe.aux_loss.dpsl.symmetric_concentration",
             "positive"},
        Case{{"logging.routing_probe_every=-1"}, 4, "logging.routing_probe_every", ">= 0"}));

TEST(ConfigValidation, StableMoEAndDpslAreImplemented) {
  ExperimentConfig c = default_config();
  apply_overrides(&c, {"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1",
                       "model.moe.aux_loss.dpsl.coeff=0.1",
                       "model.moe.aux_loss.dpsl.concentration=[0.5,0.5,1,1,1,1,2,2]",
                       "logging.routing_probe_every=10"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
}

TEST(ConfigValidation, ErcAndRectifyExamplesAreValid) {
  for (const char* name : {"erc", "rectify"}) {
    ExperimentConfig c =
        load_config_file(std::string(SY_SOURCE_DIR) + "/examples/configs/" + name + ".pbtxt");
    c.mutable_data()->set_path(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
    for (const auto& i : find_config_issues(c, context(4))) {
      ADD_FAILURE() << name << ": " << i.path << ": " << i.reason;
    }
  }
}

// Issue 17 item 2: Switch's convention (top-1, gate = router probability) is accepted.
TEST(ConfigValidation, TopOneWithRawGatesIsValid) {
  ExperimentConfig c = default_config();
  apply_overrides(&c, {"model.moe.router.top_k=1", "model.moe.router.normalize_top_k=false"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
}

// Issue 17 item 3: ERC with StableMoE (centroid rows) and SMILE (joint-logit rows) is defined.
TEST(ConfigValidation, ErcWithStableMoEAndSmileIsAccepted) {
  for (const std::vector<std::string>& router :
       {std::vector<std::string>{"model.moe.router.kind=STABLEMOE", "model.moe.router.top_k=1"},
        std::vector<std::string>{"model.moe.router.kind=SMILE", "model.moe.router.top_k=1"},
        std::vector<std::string>{"model.moe.router.kind=LOCMOE"}}) {
    ExperimentConfig c = default_config();
    apply_overrides(&c, router);
    apply_overrides(&c, {"model.moe.aux_loss.erc.coeff=1"});
    for (const auto& i : find_config_issues(c, context(4))) {
      ADD_FAILURE() << router[0] << ": " << i.path << ": " << i.reason;
    }
  }
}

// Issue 17 item 9: the papers' values are the example configs' defaults, and the papers' ranges
// validate (ERC's alpha ablation 2 and 3).
TEST(ConfigValidation, ExampleConfigsCarryThePapersValues) {
  const auto load = [](const std::string& name) {
    ExperimentConfig c =
        load_config_file(std::string(SY_SOURCE_DIR) + "/examples/configs/" + name + ".pbtxt");
    c.mutable_data()->set_path(std::string(SY_SOURCE_DIR) + "/examples/data/tinyshakespeare.txt");
    return c;
  };
  // ERC (arXiv 2512.23447): weight 1, alpha 1, with the Switch loss at 0.01.
  const ExperimentConfig erc = load("erc");
  EXPECT_EQ(erc.model().moe().aux_loss().erc().coeff(), 1.0f);
  EXPECT_EQ(erc.model().moe().aux_loss().erc().alpha(), 1.0f);
  EXPECT_FLOAT_EQ(erc.model().moe().aux_loss().load_balancing_coeff(), 0.01f);
  for (const char* alpha : {"2", "3"}) {
    ExperimentConfig c = erc;
    apply_overrides(&c, {std::string("model.moe.aux_loss.erc.alpha=") + alpha});
    for (const auto& i : find_config_issues(c, context(4))) {
      ADD_FAILURE() << "alpha " << alpha << ": " << i.path << ": " << i.reason;
    }
  }
  // DeepSeek-V3 (arXiv 2412.19437): sequence-wise loss 1e-4, bias update rate 1e-3, sigmoid.
  const ExperimentConfig ds = load("deepseek");
  EXPECT_EQ(ds.model().moe().aux_loss().load_balancing(), AuxLossConfig::SEQUENCE);
  EXPECT_FLOAT_EQ(ds.model().moe().aux_loss().load_balancing_coeff(), 1e-4f);
  EXPECT_TRUE(ds.model().moe().router().aux_free_bias().enabled());
  EXPECT_FLOAT_EQ(ds.model().moe().router().aux_free_bias().update_rate(), 1e-3f);
  EXPECT_EQ(ds.model().moe().router().score_function(), RouterConfig::SIGMOID);
  for (const auto& i : find_config_issues(ds, context(4))) {
    ADD_FAILURE() << "deepseek: " << i.path << ": " << i.reason;
  }
  // ST-MoE's z-loss weight 1e-3 wherever an example turns the z-loss on.
  for (const char* name :
       {"default", "dpsl", "expert_choice", "locmoe", "nanogpt_moe", "rectify", "smile"}) {
    EXPECT_FLOAT_EQ(load(name).model().moe().aux_loss().z_loss_coeff(), 1e-3f) << name;
  }
}

// Issue 17 item 8: expert choice over whole routing groups in the causal LM is valid but warned
// about in one line naming the field; the per-position grouping is not.
TEST(ConfigValidation, ExpertChoiceInACausalModelIsWarnedAbout) {
  ExperimentConfig c = default_config();
  apply_overrides(&c, {"model.moe.router.kind=EXPERT_CHOICE"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
  const auto warnings = find_config_warnings(c);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].path, "model.moe.router.expert_choice.grouping");
  EXPECT_THAT(warnings[0].reason, HasSubstr("later tokens"));
  EXPECT_EQ(warnings[0].reason.find('\n'), std::string::npos);
  apply_overrides(&c, {"model.moe.router.expert_choice.grouping=PER_POSITION"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
  EXPECT_TRUE(find_config_warnings(c).empty());
  EXPECT_TRUE(find_config_warnings(default_config()).empty());
}

TEST(ConfigValidation, DenseModelSkipsMoERules) {
  ExperimentConfig c = default_config();
  apply_overrides(&c, {"model.moe_every_n_layers=0", "model.moe.router.top_k=99"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
}

TEST(ConfigValidation, ReportsEveryIssue) {
  ExperimentConfig c = default_config();
  apply_overrides(&c, {"model.hidden_size=0", "train.num_steps=0", "logging.log_every=0"});
  EXPECT_EQ(find_config_issues(c, context(4)).size(), 3u);
}

TEST(ConfigValidation, FlatAllToAllNeedsNoNodeDivisibility) {
  ExperimentConfig c = default_config();
  apply_overrides(
      &c, {"comm.all_to_all=FLAT", "comm.ranks_per_node=4", "parallel.expert_parallel_size=2"});
  EXPECT_TRUE(find_config_issues(c, context(4)).empty());
}

}  // namespace
}  // namespace switchyard::config
