// `switchyard data prepare|info`: text files -> an indexed token dataset for
// `data.format: INDEXED` (train/data/prepare.h, streaming, in memory independent of the corpus),
// and a dataset's header and sizes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>

#include "core/errors.h"
#include "launch/cli.h"
#include "launch/command_args.h"
#include "train/data/indexed_dataset.h"
#include "train/data/prepare.h"
#include "train/data/tokenizer_loader.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
namespace data = train::data;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: switchyard data prepare --tokenizer MODEL|byte --out PREFIX FILE|DIR...\n"
    "       switchyard data info PREFIX [--check]\n\n"
    "  prepare  tokenizes the text files (directories: their files, recursively) into\n"
    "           PREFIX.bin and PREFIX.idx, streaming, with --threads encoders; for\n"
    "           data.format: INDEXED, data.path: PREFIX\n"
    "  info     prints a dataset's header and sizes (--check: every token id too)\n\n";

struct DataArgs {
  std::string action, tokenizer, out, documents = "file", eod = "auto";
  std::vector<std::string> inputs;
  int threads = 0;
  bool check = false, quiet = false, help = false;
};

data::DocumentBoundary parse_documents(const std::string& text) {
  if (text == "file") return data::DocumentBoundary::kFile;
  if (text == "blank-lines") return data::DocumentBoundary::kBlankLine;
  throw ConfigError("--documents", "is '" + text + "', expected file or blank-lines");
}

// "auto" (the tokenizer's own), "none", or an id.
std::optional<int64_t> parse_eod(const std::string& text) {
  if (text == "auto") return std::nullopt;
  if (text == "none") return -1;
  try {
    size_t used = 0;
    const long long id = std::stoll(text, &used);
    if (used == text.size() && id >= 0) return id;
  } catch (const std::exception&) {
  }
  throw ConfigError("--eod-id", "is '" + text + "', expected auto, none or an id >= 0");
}

std::string megabytes(uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buffer;
}

int prepare(const DataArgs& a) {
  if (a.tokenizer.empty()) throw UsageError{"data prepare", "missing --tokenizer MODEL|byte"};
  if (a.out.empty()) throw UsageError{"data prepare", "missing --out PREFIX"};
  if (a.inputs.empty()) throw UsageError{"data prepare", "no input files given"};
  const std::unique_ptr<data::Tokenizer> tokenizer =
      data::load_tokenizer(a.tokenizer, "--tokenizer");
  create_parent_directory(a.out, "--out");
  data::PrepareOptions o;
  o.inputs = a.inputs;
  o.output_prefix = a.out;
  o.documents = parse_documents(a.documents);
  o.eod_id = parse_eod(a.eod);
  const unsigned cores = std::thread::hardware_concurrency();
  o.threads = a.threads > 0 ? a.threads : static_cast<int>(cores > 0 ? cores : 1);
  // One progress line: rewritten in place on a terminal, every 10 s otherwise.
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = Clock::now();
  auto last = start;
  o.progress = [&](const data::PrepareProgress& p) {
    const auto now = Clock::now();
    const bool end = p.files_done == p.files_total && p.bytes_done == p.bytes_total;
    if (a.quiet || (!end && now - last < std::chrono::seconds(tty ? 1 : 10))) return;
    last = now;
    const double seconds = std::chrono::duration<double>(now - start).count();
    std::fprintf(stderr,
                 "%sprepare: %s of %s (file %llu of %llu), %llu documents, %llu tokens, "
                 "%.1f MB/s%s",
                 tty ? "\r" : "", megabytes(p.bytes_done).c_str(), megabytes(p.bytes_total).c_str(),
                 static_cast<unsigned long long>(p.files_done),
                 static_cast<unsigned long long>(p.files_total),
                 static_cast<unsigned long long>(p.documents),
                 static_cast<unsigned long long>(p.tokens),
                 seconds > 0 ? static_cast<double>(p.bytes_done) / 1e6 / seconds : 0.0,
                 tty && !end ? "" : "\n");
  };
  const data::PrepareResult r = data::prepare_indexed_dataset(*tokenizer, o);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "wrote " << r.bin_path << " and " << r.idx_path << ": " << r.header.num_documents
            << " documents, " << r.header.num_tokens << " " << data::dtype_name(r.header.dtype)
            << " tokens (vocabulary " << r.header.vocab_size << ", end-of-document id "
            << r.header.eod_id << ") from " << r.files << " file(s), " << megabytes(r.input_bytes)
            << " in " << seconds << " s with " << o.threads << " thread(s)";
  if (r.empty_documents > 0) std::cout << "; " << r.empty_documents << " empty document(s) skipped";
  std::cout << "\n";
  return kExitOk;
}

int info(const DataArgs& a) {
  if (a.inputs.size() != 1) throw UsageError{"data info", "expected one dataset PREFIX"};
  const data::IndexedDataset d = data::IndexedDataset::open(a.inputs[0]);
  if (a.check) d.validate_all_tokens();
  const data::IndexHeader& h = d.header();
  uint64_t shortest = UINT64_MAX, longest = 0;
  for (uint64_t i = 0; i < d.num_documents(); ++i) {
    shortest = std::min(shortest, d.document_length(i));
    longest = std::max(longest, d.document_length(i));
  }
  std::cout << a.inputs[0] << ": " << h.num_documents << " documents, " << h.num_tokens << " "
            << data::dtype_name(h.dtype) << " tokens (documents of " << shortest << " to "
            << longest << " tokens), vocabulary " << h.vocab_size << ", end-of-document id "
            << h.eod_id << ", tokenizer " << h.tokenizer_digest
            << (a.check ? "; every token id checked" : "") << "\n";
  return kExitOk;
}

int run_data(const std::vector<std::string>& args) {
  DataArgs a;
  po::options_description shown("options");
  shown.add_options()("help,h", po::bool_switch(&a.help), "show this help")(
      "tokenizer", po::value(&a.tokenizer), "prepare: a SentencePiece .model, or byte")(
      "out", po::value(&a.out), "prepare: output prefix (PREFIX.bin, PREFIX.idx)")(
      "documents", po::value(&a.documents)->default_value(a.documents),
      "prepare: a document is a file, or text between blank-lines")(
      "eod-id", po::value(&a.eod)->default_value(a.eod),
      "prepare: end-of-document id appended to each document: auto (the tokenizer's </s>; none "
      "for byte), none, or an id")("threads", po::value(&a.threads)->default_value(0),
                                   "prepare: encoders; 0 = the cores")(
      "quiet", po::bool_switch(&a.quiet), "prepare: no progress line")(
      "check", po::bool_switch(&a.check), "info: check every token id against the vocabulary");
  parse_command_args(
      args, shown,
      {{"action", po::value(&a.action), 1}, {"inputs", po::value(&a.inputs)->composing(), -1}});
  if (a.help) {
    std::cout << kUsage << shown;
    return kExitOk;
  }
  if (a.threads < 0) throw ConfigError("--threads", "must be >= 0");
  if (a.action == "prepare") return prepare(a);
  if (a.action == "info") return info(a);
  throw UsageError{"data", a.action.empty()
                               ? "missing action (prepare or info)"
                               : "unknown action '" + a.action + "' (prepare or info)"};
}

}  // namespace

Command data_command() {
  return {"data", "prepare an indexed token dataset (data prepare), inspect one", run_data};
}

}  // namespace switchyard::launch
