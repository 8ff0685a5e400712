// `switchyard bench data-prepare`: the throughput of `switchyard data prepare` (SentencePiece,
// N encoding threads) against the Python SentencePiece encoder on the same corpus, model and
// machine, in the same run (launch/bench/spm_encode.py: one process, then a pool of N), and
// whether both wrote the very same token ids. docs/benchmarks.md records its figures.
#include "launch/bench_data_command.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/input_file.h"
#include "launch/bench_common.h"
#include "launch/cli.h"
#include "train/data/prepare.h"
#include "train/data/sentencepiece_train.h"
#include "train/data/tokenizer_loader.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;
namespace data = train::data;

struct Args {
  std::string corpus = "examples/data/tinyshakespeare.txt";
  std::string tokenizer;  // empty: train a BPE model of vocab_size pieces on the corpus
  std::string workdir = "runs/bench/data-prepare";
  std::string python = SWITCHYARD_BENCH_PYTHON;
  std::string script = SWITCHYARD_SOURCE_DIR "/launch/bench/spm_encode.py";
  int copies = 20;
  int threads = 0;
  int64_t vocab_size = 2000;
  bool help = false;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// `copies` copies of the corpus, a blank line after each (documents never merge across copies).
uint64_t write_corpus(const std::string& source, int copies, const std::string& out) {
  const std::string text = read_input_file({source, "corpus", kMaxCorpusBytes, "--corpus"});
  std::ofstream f(out, std::ios::binary);
  for (int i = 0; i < copies; ++i) f << text << "\n\n";
  f.close();
  if (!f) throw Error("cannot write " + out);
  return fs::file_size(out);
}

struct PythonRun {
  uint64_t tokens = 0;
  double seconds = 0;
};

PythonRun run_python(const Args& a,
                     const std::string& model,
                     const std::string& corpus,
                     const std::string& out,
                     int workers) {
  const std::string command = "'" + a.python + "' '" + a.script + "' '" + model + "' '" + corpus +
                              "' '" + out + "' --workers " + std::to_string(workers);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw Error("cannot start " + command);
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    throw Error("the Python baseline failed (" + command + ", status " + std::to_string(status) +
                "): is sentencepiece installed in " + a.python + "? (make deps)");
  }
  const nlohmann::json j = nlohmann::json::parse(output);
  return {j.at("tokens").get<uint64_t>(), j.at("seconds").get<double>()};
}

bool same_bytes(const std::string& a, const std::string& b) {
  if (fs::file_size(a) != fs::file_size(b)) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
      return false;
  }
  return true;
}

}  // namespace

int run_bench_data_prepare(const std::vector<std::string>& args) {
  Args a;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&a.help), "show this help")(
      "corpus", po::value(&a.corpus)->default_value(a.corpus), "text corpus")(
      "copies", po::value(&a.copies)->default_value(a.copies), "copies of it to encode")(
      "tokenizer", po::value(&a.tokenizer),
      "SentencePiece .model (default: a BPE model trained on the corpus)")(
      "vocab-size", po::value(&a.vocab_size)->default_value(a.vocab_size),
      "pieces of the model trained when --tokenizer is not given")(
      "threads", po::value(&a.threads)->default_value(0), "encoding threads / workers; 0 = cores")(
      "python", po::value(&a.python)->default_value(a.python), "Python with sentencepiece")(
      "script", po::value(&a.script)->default_value(a.script), "the Python baseline")(
      "workdir", po::value(&a.workdir)->default_value(a.workdir), "scratch directory");
  if (!parse_bench_args(args, options, a.help, "switchyard bench data-prepare [options]",
                        "data prepare (SentencePiece) vs the Python SentencePiece encoder")) {
    return kExitOk;
  }
  if (a.copies < 1) throw ConfigError("--copies", "must be >= 1");
  const unsigned cores = std::thread::hardware_concurrency();
  const int threads = a.threads > 0 ? a.threads : static_cast<int>(cores > 0 ? cores : 1);
  fs::create_directories(a.workdir);
  const std::string corpus = a.workdir + "/corpus.txt";
  const uint64_t bytes = write_corpus(a.corpus, a.copies, corpus);
  std::string model = a.tokenizer;
  if (model.empty()) {
    data::SentencePieceTrainOptions t;
    t.inputs = {a.corpus};
    t.output_prefix = a.workdir + "/bpe";
    t.vocab_size = a.vocab_size;
    t.model_type = data::SentencePieceModelType::kBpe;
    t.num_threads = threads;
    model = data::train_sentencepiece(t).model_path;
  }
  const std::unique_ptr<data::Tokenizer> tokenizer = data::load_tokenizer(model, "--tokenizer");
  std::cout << "corpus: " << a.copies << " x " << a.corpus << " = " << bytes / 1e6
            << " MB; tokenizer " << tokenizer->description() << " (vocabulary "
            << tokenizer->vocab_size() << "); " << threads << " thread(s)\n";

  struct Row {
    std::string name;
    uint64_t tokens;
    double seconds;
  };
  std::vector<Row> rows;
  auto ours = [&](int n) {
    data::PrepareOptions o;
    o.inputs = {corpus};
    o.output_prefix = a.workdir + "/ours-" + std::to_string(n);
    o.documents = data::DocumentBoundary::kBlankLine;
    o.threads = n;
    const auto start = std::chrono::steady_clock::now();
    const data::PrepareResult r = data::prepare_indexed_dataset(*tokenizer, o);
    rows.push_back({"switchyard data prepare, " + std::to_string(n) + " thread(s)",
                    r.header.num_tokens, seconds_since(start)});
    return r.bin_path;
  };
  auto python = [&](int n) {
    const std::string out = a.workdir + "/python-" + std::to_string(n) + ".bin";
    const PythonRun r = run_python(a, model, corpus, out, n);
    rows.push_back(
        {"Python SentencePiece, " + std::to_string(n) + " process(es)", r.tokens, r.seconds});
    return out;
  };
  const std::string python_one = python(1);
  const std::string ours_one = ours(1);
  std::string python_n = python_one, ours_n = ours_one;
  if (threads > 1) {
    python_n = python(threads);
    ours_n = ours(threads);
  }
  const bool identical = same_bytes(ours_one, python_one) && same_bytes(ours_n, python_n);
  nlohmann::json result = {{"corpus_bytes", bytes},
                           {"threads", threads},
                           {"identical_ids", identical},
                           {"rows", nlohmann::json::array()}};
  const double base = rows[0].seconds;  // Python, one process
  std::printf("%-44s %10s %10s %9s %s\n", "", "tokens", "seconds", "MB/s", "speed vs Python x1");
  for (const Row& r : rows) {
    std::printf("%-44s %10llu %10.2f %9.2f %.2fx\n", r.name.c_str(),
                static_cast<unsigned long long>(r.tokens), r.seconds, bytes / 1e6 / r.seconds,
                base / r.seconds);
    result["rows"].push_back({{"name", r.name},
                              {"tokens", r.tokens},
                              {"seconds", r.seconds},
                              {"speed_vs_python_1", base / r.seconds}});
  }
  std::cout << "token ids identical to Python's: " << (identical ? "yes" : "NO") << "\n";
  std::ofstream(a.workdir + "/result.json") << result.dump(2) << "\n";
  return identical ? kExitOk : kExitFailure;
}

}  // namespace switchyard::launch
