// End-to-end tests of the `switchyard` command line: exit codes and one-line messages that name
// the field path, for good and malformed configs.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::string text;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

// Runs switchyard with `args` from the source directory (where the default config's relative
// data path resolves), with stdout and stderr captured separately.
CliRun run_switchyard(const std::string& args) {
  // Per process: TempDir() is /tmp, shared with other checkouts' test runs.
  const std::string tag = std::to_string(::getpid());
  const std::string out = ::testing::TempDir() + "/cli_out." + tag + ".txt";
  const std::string err = ::testing::TempDir() + "/cli_err." + tag + ".txt";
  const std::string cmd = std::string("cd '") + SY_SOURCE_DIR + "' && '" + SY_SWITCHYARD_BIN +
                          "' " + args + " >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const char* kDefault = "examples/configs/default.pbtxt";

TEST(Cli, HelpForToolAndEachCommand) {
  for (const std::string args :
       {"--help", "config --help", "config validate --help", "config print --help"}) {
    const CliRun r = run_switchyard(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    EXPECT_THAT(r.out, HasSubstr("usage: switchyard")) << args;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  for (const std::string args : {"", "frobnicate", "config", "config validate", "config frob x",
                                 "config validate a.pbtxt --no-such-flag"}) {
    const CliRun r = run_switchyard(args);
    EXPECT_EQ(r.exit_code, 2) << "'" << args << "'\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error:")) << args;
  }
}

TEST(Cli, DefaultConfigValidates) {
  const CliRun r = run_switchyard(std::string("config validate ") + kDefault);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("valid for 4 ranks"));
}

// Every config shipped in examples/configs/ (found at test time, so configs added later are
// covered) validates, and examples/README.md walks through it.
TEST(Cli, EveryExampleConfigValidatesAndIsDocumented) {
  const std::string readme = slurp(std::string(SY_SOURCE_DIR) + "/examples/README.md");
  ASSERT_FALSE(readme.empty()) << "examples/README.md is missing";
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SY_SOURCE_DIR) + "/examples/configs")) {
    if (entry.path().extension() != ".pbtxt") continue;
    ++count;
    const std::string file = "examples/configs/" + entry.path().filename().string();
    const CliRun r = run_switchyard("config validate " + file);
    if (slurp(entry.path().string()).find("format: INDEXED") != std::string::npos &&
        r.exit_code != 0) {
      // Its tokenizer and dataset are made by the commands it documents (under runs/, absent
      // from a fresh clone): then the only errors allowed name those files.
      EXPECT_EQ(r.exit_code, 2) << file << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("runs/data/")) << file;
      std::istringstream lines(r.err);
      for (std::string line; std::getline(lines, line);) {
        EXPECT_THAT(line,
                    ::testing::AnyOf(HasSubstr("data.path"), HasSubstr("data.tokenizer_model")))
            << file;
      }
    } else {
      EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
      EXPECT_THAT(r.out, HasSubstr("valid")) << file;
    }
    EXPECT_THAT(readme, HasSubstr("`" + file + "`"))
        << file << " has no entry in examples/README.md";
  }
  EXPECT_GE(count, 6) << "expected at least the 6 configs of this version";
}

// The CUDA build starts and trains on a machine without a GPU: AUTO says it chose the CPU;
// CUDA is refused with one line naming parallel.device (where a GPU is visible, CUDA trains).
TEST(Cli, DeviceChoiceOnThisMachine) {
  const std::string short_run = std::string("train ") + kDefault +
                                " --set train.num_steps=2 --set train.eval_batches=1"
                                " --set generate.max_new_tokens=4 --set comm.ranks_per_node=0"
                                " --set parallel.world_size=0 --set parallel.expert_parallel_size=1"
                                " --set logging.run_dir=" +
                                ::testing::TempDir() + "/cli_device";
  const CliRun cuda = run_switchyard(short_run + " --set parallel.device=CUDA");
  if (torch::cuda::is_available()) {
    EXPECT_EQ(cuda.exit_code, 0) << cuda.err;
    EXPECT_THAT(cuda.out + cuda.err, HasSubstr("device: CUDA device 0"));
    return;
  }
  EXPECT_EQ(cuda.exit_code, 2) << cuda.out << cuda.err;
  EXPECT_THAT(cuda.err, HasSubstr("parallel.device"));
  EXPECT_THAT(cuda.err, HasSubstr("no CUDA device"));
  const CliRun automatic = run_switchyard(short_run + " --set parallel.device=AUTO");
  EXPECT_EQ(automatic.exit_code, 0) << automatic.err;
  EXPECT_THAT(automatic.out + automatic.err, HasSubstr("device: CPU (no CUDA device visible)"));
  EXPECT_THAT(automatic.out, HasSubstr("--- sample ---"));
  // comm.backend AUTO resolves to MPI for CPU tensors and says why.
  EXPECT_THAT(automatic.out + automatic.err,
              HasSubstr("comm backend: MPI (AUTO: CPU tensors); device tensors: direct"));
}

// NCCL asked for on a rank that computes on the CPU (parallel.device AUTO without a GPU): one
// line naming comm.backend, exit 2, no run directory.
TEST(Cli, NcclOnTheCpuIsOneLine) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is visible";
  const std::string run_dir = ::testing::TempDir() + "/cli_nccl_cpu";
  const CliRun r = run_switchyard(std::string("train ") + kDefault +
                                  " --set comm.backend=NCCL --set comm.ranks_per_node=0"
                                  " --set parallel.world_size=0"
                                  " --set parallel.expert_parallel_size=1 --set logging.run_dir=" +
                                  run_dir);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("comm.backend: NCCL carries CUDA tensors"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(run_dir));
}

TEST(Cli, PrintShowsEveryDefault) {
  const CliRun r = run_switchyard(std::string("config print ") + kDefault + " --set train.seed=99");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* field : {"backend: AUTO", "timeout_ms: 120000", "threads_per_rank: 0",
                            "second_expert_policy: RANDOM", "stage2_step: 1000", "seed: 99",
                            "keep_last: 3", "temperature: 0.8", "drop_policy: POSITION",
                            "device: AUTO", "precision: FP32", "kernels: AUTO"}) {
    EXPECT_THAT(r.out, HasSubstr(field));
  }
}

struct BadCase {
  std::string name;
  std::string args;
  std::string path;  // the field path the one-line message must name
  friend void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }
};

class CliBadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliBadConfig, ExitsTwoWithOneLineNamingTheField) {
  const BadCase& c = GetParam();
  const CliRun r = run_switchyard(c.args);
  EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(c.path));
  EXPECT_THAT(r.err, Not(HasSubstr("terminate")));
  EXPECT_THAT(r.err, Not(HasSubstr("Aborted")));
  EXPECT_THAT(r.err, Not(HasSubstr("Exception raised from")));
  EXPECT_TRUE(r.out.empty()) << r.out;
}

const std::string kSet = std::string("config validate ") + kDefault + " --set ";
const std::string kBad = "config validate tests/data/bad_configs/";

INSTANTIATE_TEST_SUITE_P(
    Malformed,
    CliBadConfig,
    ::testing::Values(
        BadCase{"syntax_error", kBad + "syntax_error.pbtxt", "syntax_error.pbtxt:"},
        BadCase{"unknown_field", kBad + "unknown_field.pbtxt", "model.moe.routr"},
        BadCase{"wrong_type", kBad + "wrong_type.pbtxt", "model.hidden_size"},
        BadCase{"json_wrong_field", kBad + "wrong_field.json", "model.moe.num_expert"},
        BadCase{"negative_steps", kBad + "negative_steps.pbtxt --world-size 1", "train.num_steps"},
        BadCase{"unknown_set_path", kSet + "model.moe.routr.top_k=2", "model.moe.routr"},
        BadCase{"bad_set_value", kSet + "model.hidden_size=big", "model.hidden_size"},
        BadCase{"top_k_gt_experts", kSet + "model.moe.router.top_k=9", "model.moe.router.top_k"},
        BadCase{"experts_not_divisible", kSet + "model.moe.num_experts=6", "model.moe.num_experts"},
        BadCase{"hidden_not_positive", kSet + "model.hidden_size=0", "model.hidden_size"},
        BadCase{"negative_lr", kSet + "train.optimizer.learning_rate=-0.001",
                "train.optimizer.learning_rate"},
        BadCase{"missing_data", kSet + "data.path=no/such/corpus.txt", "data.path"},
        BadCase{"rpn_not_dividing_ep",
                kSet + "comm.ranks_per_node=4 --set parallel.expert_parallel_size=2",
                "comm.ranks_per_node"},
        BadCase{"missing_file", "config validate no/such/config.pbtxt", "no/such/config.pbtxt"},
        BadCase{"bad_enum", kSet + "comm.all_to_all=RING", "comm.all_to_all"},
        BadCase{"bf16_with_fused_cpu_kernels",
                kSet + "train.precision=BF16 --set model.kernels=FUSED_CPU", "model.kernels"},
        BadCase{"nccl_on_the_cpu", kSet + "comm.backend=NCCL --set parallel.device=CPU",
                "comm.backend"},
        BadCase{"bad_device", kSet + "parallel.device=TPU", "parallel.device"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

// Every user-supplied path is checked for what it must be before anything is read or written:
// one line naming the path and the reason, exit 2, stdout empty, no run directory created.
class CliBadPath : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = ::testing::TempDir() + "/cli_bad_paths." + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(::mkfifo((dir_ + "/fifo.pbtxt").c_str(), 0644), 0);
    std::filesystem::create_symlink(dir_ + "/no_such_target.pbtxt", dir_ + "/dangling.pbtxt");
    // A sparse file just over the 16 MiB bound on configs (no disk space used).
    std::ofstream(dir_ + "/huge.pbtxt").close();
    std::filesystem::resize_file(dir_ + "/huge.pbtxt", (16u << 20) + 1);
    std::ofstream(dir_ + "/latin1.pbtxt", std::ios::binary) << "logging { run_dir: \"caf\xe9\" }\n";
    std::ofstream(dir_ + "/not_a_dir.txt") << "x\n";
    std::filesystem::create_directories(dir_ + "/run_without_metrics");
    std::filesystem::create_directories(dir_ + "/run_bad_metrics");
    std::ofstream(dir_ + "/run_bad_metrics/metrics.jsonl") << "{\"step\": 1, \"loss\": \"high\"}\n";
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string dir_;
};
std::string CliBadPath::dir_;

struct PathCase {
  std::string args;    // with DIR standing for the fixture's directory
  std::string names;   // the one line names this
  std::string reason;  // ... and says this
};

void expect_refused(const std::string& args, const std::string& names, const std::string& reason) {
  const CliRun r = run_switchyard(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_THAT(r.err, HasSubstr(names)) << args;
  EXPECT_THAT(r.err, HasSubstr(reason)) << args;
  EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
}

std::string replace_dir(std::string s, const std::string& dir) {
  for (auto at = s.find("DIR"); at != std::string::npos; at = s.find("DIR", at + dir.size())) {
    s.replace(at, 3, dir);
  }
  return s;
}

TEST_F(CliBadPath, ConfigFileThatIsNotARegularReadableFile) {
  const std::string run_dir = dir_ + "/run_must_not_exist";
  const std::vector<PathCase> cases = {
      {"examples", "examples", "is a directory, not a config file"},
      {"DIR/fifo.pbtxt", "fifo.pbtxt", "is a FIFO"},
      {"/dev/zero", "/dev/zero", "is a character device"},
      {"DIR/dangling.pbtxt", "dangling.pbtxt", "is a dangling symbolic link"},
      {"DIR/huge.pbtxt", "huge.pbtxt", "more than the bound of 16777216 bytes"},
      {"DIR/latin1.pbtxt", "latin1.pbtxt", "is not UTF-8 text"},
      {"DIR/no_such.pbtxt", "no_such.pbtxt", "does not exist"},
  };
  expect_refused("config print examples", "examples", "is a directory, not a config file");
  for (const PathCase& c : cases) {
    const std::string file = replace_dir(c.args, dir_);
    expect_refused("config validate " + file, c.names, c.reason);
    expect_refused("train " + file + " --set logging.run_dir=" + run_dir, c.names, c.reason);
    EXPECT_FALSE(std::filesystem::exists(run_dir)) << "train " << file << " wrote " << run_dir;
  }
}

TEST_F(CliBadPath, CorpusPathThatIsNotARegularFile) {
  const std::string run_dir = dir_ + "/run_must_not_exist";
  const std::string base =
      std::string(kDefault) + " --set logging.run_dir=" + run_dir + " --set data.path=";
  for (const PathCase& c :
       std::vector<PathCase>{{"examples", "data.path", "is a directory, not a corpus"},
                             {"DIR/fifo.pbtxt", "data.path", "is a FIFO"},
                             {"/dev/zero", "data.path", "is a character device"},
                             {"DIR/dangling.pbtxt", "data.path", "is a dangling symbolic link"}}) {
    const std::string path = replace_dir(c.args, dir_);
    expect_refused("config validate " + base + path, c.names, c.reason);
    // train under no launcher: one process, a dense model, refused before anything is written.
    expect_refused("train " + base + path +
                       " --set parallel.world_size=0 --set parallel.expert_parallel_size=1"
                       " --set comm.ranks_per_node=0",
                   c.names, c.reason);
    EXPECT_FALSE(std::filesystem::exists(run_dir)) << path;
  }
}

TEST_F(CliBadPath, CheckpointAndRunDirectories) {
  for (const PathCase& c : std::vector<PathCase>{
           {"DIR/not_a_dir.txt", "not_a_dir.txt", "is a regular file, not a checkpoint directory"},
           {"DIR/dangling.pbtxt", "dangling.pbtxt", "is a dangling symbolic link"},
           {"/dev/zero", "/dev/zero", "is a character device, not a checkpoint directory"},
           {"DIR/run_without_metrics", "run_without_metrics", "no readable manifest.pbtxt"}}) {
    expect_refused("generate --prompt hi --checkpoint " + replace_dir(c.args, dir_), c.names,
                   c.reason);
  }
  for (const PathCase& c : std::vector<PathCase>{
           {"DIR/not_a_dir.txt", "not_a_dir.txt", "is a regular file, not a run directory"},
           {"DIR/fifo.pbtxt", "fifo.pbtxt", "is a FIFO (named pipe), not a run directory"},
           {"DIR/run_without_metrics", "metrics.jsonl", "does not exist"},
           {"DIR/run_bad_metrics", "metrics.jsonl", "line 1 is not a metrics record"}}) {
    expect_refused("plot " + replace_dir(c.args, dir_), c.names, c.reason);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run_bad_metrics/plot_train.dat"));
}

}  // namespace
