// `data prepare` (train/data/prepare.h) and its reading side (line_reader.h,
// document_chunker.h): what is written reads back equal to encoding the documents directly,
// independently of the number of threads, and a failure leaves no output behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "core/errors.h"
#include "tests/train/data/data_test_util.h"
#include "train/data/byte_tokenizer.h"
#include "train/data/document_chunker.h"
#include "train/data/indexed_dataset.h"
#include "train/data/line_reader.h"
#include "train/data/prepare.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/data/sentencepiece_train.h"

namespace switchyard::train::data {
namespace {

using ::testing::HasSubstr;
using namespace std::string_literals;
using testing::refusal;
using testing::ScratchDir;

std::vector<std::string> lines_of(const std::string& path, size_t max_line) {
  LineReader r({path, "text file", kMaxStreamedTextBytes, ""}, max_line, true);
  std::vector<std::string> lines;
  std::string_view line;
  while (r.next(&line)) lines.emplace_back(line);
  return lines;
}

TEST(LineReader, GivesLinesWithTheirBreaksAndLongLinesInPieces) {
  ScratchDir s;
  EXPECT_EQ(lines_of(s.write("a", "x\n\ny\r\nz"), 100),
            (std::vector<std::string>{"x\n", "\n", "y\r\n", "z"}));
  EXPECT_EQ(lines_of(s.write("e", ""), 100), std::vector<std::string>{});
  // Cut after the last space in the second half, else before a UTF-8 continuation byte.
  EXPECT_EQ(lines_of(s.write("b", "aaaa bbbbbb cc\n"), 8),
            (std::vector<std::string>{"aaaa ", "bbbbbb ", "cc\n"}));
  EXPECT_EQ(lines_of(s.write("c", "abcdefg\xc3\xa9xyz\n"), 8),
            (std::vector<std::string>{"abcdefg", "\xc3\xa9xyz\n"}));
  LineReader r({s.write("d", "1\n2\n" + std::string(30, 'x') + "\n4\n"), "t", 1000, ""}, 10, true);
  std::string_view line;
  std::vector<uint64_t> numbers;
  while (r.next(&line)) numbers.push_back(r.line_number());
  EXPECT_EQ(numbers, (std::vector<uint64_t>{1, 2, 3, 3, 3, 3, 4}));
  EXPECT_EQ(r.bytes_read(), 4u + 31u + 2u);
  EXPECT_EQ(refusal([&] { lines_of(s.write("u", "ok\nok\nbad \xff\n"), 100); }),
            s.path("u") + ": line 3: is not UTF-8 text (invalid byte 0xff at offset 4)");
}

TEST(DocumentChunker, OneDocumentPerFileOrPerBlankLineSeparatedBlock) {
  ScratchDir s;
  const std::string a = s.write("a.txt", "A1\n\nA2\n  \n\n");
  const std::string b = s.write("b.txt", "\nB1\nB2");
  auto documents = [&](DocumentBoundary boundary, size_t chunk) {
    DocumentChunker c({a, b}, boundary, chunk, 100);
    std::vector<std::string> docs(1);
    TextChunk t;
    uint64_t bytes = 0;
    while (c.next(&t)) {
      size_t line = 0;
      for (const uint32_t end : t.document_ends) {
        for (; line < end; ++line) docs.back() += t.line(line);
        docs.emplace_back();
      }
      for (; line < t.line_ends.size(); ++line) docs.back() += t.line(line);
      bytes += t.input_bytes;
    }
    docs.pop_back();
    EXPECT_EQ(bytes, 11u + 6u);
    return docs;
  };
  for (const size_t chunk : {1, 3, 1000}) {
    EXPECT_EQ(documents(DocumentBoundary::kFile, chunk),
              (std::vector<std::string>{"A1\n\nA2\n  \n\n", "\nB1\nB2"}));
    EXPECT_EQ(documents(DocumentBoundary::kBlankLine, chunk),
              (std::vector<std::string>{"A1\n", "A2\n", "", "B1\nB2"}));  // "" = trailing blanks
  }
}

// Ids of documents read back from a prepared dataset.
std::vector<std::vector<int64_t>> read_back(const IndexedDataset& d) {
  std::vector<std::vector<int64_t>> docs;
  for (uint64_t i = 0; i < d.num_documents(); ++i) {
    std::vector<int64_t> ids(d.document_length(i));
    d.read_tokens(d.document_offset(i), ids.size(), ids.data());
    docs.push_back(ids);
  }
  return docs;
}

TEST(Prepare, ByteLevelFilesReadBackExactlyWithTheChosenEndOfDocument) {
  ScratchDir s;
  const std::string text1 = "hello\nworld\n", text2 = "caf\xc3\xa9";
  PrepareOptions o;
  o.inputs = {s.write("in/1.txt", text1), s.write("in/2.txt", ""), s.write("in/3.txt", text2)};
  o.output_prefix = s.path("out");
  const ByteTokenizer byte;
  const PrepareResult r = prepare_indexed_dataset(byte, o);
  EXPECT_EQ(r.empty_documents, 1u);
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.header.eod_id, -1);  // the byte tokenizer has none
  IndexedDataset d = IndexedDataset::open(s.path("out"), {256, false, "byte"});
  EXPECT_EQ(d.header().dtype, TokenDtype::kUint16);
  EXPECT_EQ(read_back(d),
            (std::vector<std::vector<int64_t>>{byte.encode(text1), byte.encode(text2)}));
  // An end-of-document id past the vocabulary grows it by one.
  o.eod_id = 256;
  prepare_indexed_dataset(byte, o);
  d = IndexedDataset::open(s.path("out"));
  EXPECT_EQ(d.vocab_size(), 257u);
  EXPECT_EQ(d.eod_id(), 256);
  std::vector<int64_t> first = byte.encode(text1);
  first.push_back(256);
  EXPECT_EQ(read_back(d)[0], first);
  o.eod_id = 0;
  EXPECT_EQ(prepare_indexed_dataset(byte, o).header.vocab_size, 256u);
  o.eod_id = 257;
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(byte, o); }),
              HasSubstr("--eod-id: is 257, must be -1 (none) or in [0, 256] for the byte"));
  EXPECT_EQ(s.listing(), (std::vector<std::string>{"in", "out.bin", "out.idx"}));
}

TEST(Prepare, TheOutputDoesNotDependOnTheNumberOfThreadsOrChunks) {
  ScratchDir s;
  PrepareOptions o;
  for (int i = 0; i < 6; ++i) {
    o.inputs.push_back(s.write("in/" + std::to_string(i), testing::shakespeare(3000 + 2000 * i)));
  }
  o.documents = DocumentBoundary::kBlankLine;
  o.eod_id = 0;
  std::vector<std::string> outputs;
  for (const int threads : {1, 2, 5}) {
    for (const size_t chunk : {size_t{64}, size_t{1} << 20}) {
      o.threads = threads;
      o.chunk_bytes = chunk;
      o.max_line_bytes = 16;  // long lines in pieces too
      o.output_prefix = s.path("out" + std::to_string(outputs.size()));
      uint64_t calls = 0, last_bytes = 0;
      PrepareProgress last;
      o.progress = [&](const PrepareProgress& p) {
        EXPECT_GE(p.bytes_done, last_bytes);
        last_bytes = p.bytes_done;
        last = p;
        ++calls;
      };
      const PrepareResult r = prepare_indexed_dataset(ByteTokenizer(), o);
      EXPECT_EQ(last.bytes_done, last.bytes_total);
      EXPECT_EQ(last.files_done, 6u);
      EXPECT_EQ(last.tokens, r.header.num_tokens);
      EXPECT_EQ(last.documents, r.header.num_documents);
      // Small chunks: many per file; 1 MiB chunks pack a whole file's documents into one.
      if (chunk == 64) EXPECT_GT(calls, 6u * 10);
      if (chunk != 64) EXPECT_EQ(calls, 6u);
      outputs.push_back(testing::read_file(r.bin_path) + testing::read_file(r.idx_path));
    }
  }
  for (const std::string& out : outputs) EXPECT_EQ(out, outputs[0]);
}

TEST(Prepare, SentencePieceDocumentsEqualEncodingTheirLinesDirectly) {
  ScratchDir s;
  SentencePieceTrainOptions t;
  t.inputs = {s.write("train.txt", testing::shakespeare(100000))};
  t.output_prefix = s.path("spm");
  t.vocab_size = 300;
  t.model_type = SentencePieceModelType::kBpe;
  const auto spm = SentencePieceTokenizer::load(train_sentencepiece(t).model_path);
  const std::string text = testing::shakespeare(20000);
  PrepareOptions o;
  o.inputs = {s.write("corpus.txt", text)};
  o.output_prefix = s.path("ds");
  o.documents = DocumentBoundary::kBlankLine;
  o.threads = 3;
  o.chunk_bytes = 256;
  const PrepareResult r = prepare_indexed_dataset(*spm, o);
  // Expected: blocks between blank lines, each the ids of its lines, then </s>.
  std::vector<std::vector<int64_t>> want(1);
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at) + 1;
    const std::string line = text.substr(at, end - at);
    at = end;
    if (line == "\n") {
      if (!want.back().empty()) want.back().push_back(spm->eod_id()), want.emplace_back();
      continue;
    }
    spm->encode(line, &want.back());
  }
  want.back().push_back(spm->eod_id());
  const IndexedDataset d =
      IndexedDataset::open(s.path("ds"), {300, false, spm->digest()}, "data.path");
  EXPECT_EQ(r.header.num_documents, want.size());
  EXPECT_GT(want.size(), 50u);
  EXPECT_EQ(d.eod_id(), 2);
  EXPECT_EQ(read_back(d), want);
  // Another tokenizer's digest is refused.
  EXPECT_THAT(refusal([&] {
                IndexedDataset::open(s.path("ds"), {300, false, "byte"});
              }),
              HasSubstr("was prepared with tokenizer '" + spm->digest() + "'"));
}

// A tokenizer with a vocabulary past uint16: ids 69000 + byte.
class WideTokenizer final : public Tokenizer {
 public:
  using Tokenizer::encode;
  void encode(std::string_view text, std::vector<int64_t>* out) const override {
    for (const char c : text) out->push_back(69000 + static_cast<unsigned char>(c));
  }
  std::string decode(const std::vector<int64_t>&) const override { return ""; }
  int64_t vocab_size() const override { return 70000; }
  int64_t eod_id() const override { return 69999; }
  std::string digest() const override { return "wide"; }
  std::string description() const override { return "wide"; }
};

TEST(Prepare, LargeVocabulariesAreWrittenAsUint32) {
  ScratchDir s;
  PrepareOptions o;
  o.inputs = {s.write("a", "xy")};
  o.output_prefix = s.path("w");
  prepare_indexed_dataset(WideTokenizer(), o);
  const IndexedDataset d = IndexedDataset::open(s.path("w"));
  EXPECT_EQ(d.header().dtype, TokenDtype::kUint32);
  EXPECT_EQ(read_back(d)[0], (std::vector<int64_t>{69000 + 'x', 69000 + 'y', 69999}));
  EXPECT_EQ(testing::read_file(s.path("w.bin")).size(), 12u);
}

TEST(Prepare, DirectoriesAreWalkedInOrderSkippingHiddenNames) {
  ScratchDir s;
  s.write("d/b.txt", "b");
  s.write("d/a/z.txt", "z");
  s.write("d/.hidden", "h");
  s.write("d/.git/x", "x");
  s.write("d/c.txt", "c");
  EXPECT_EQ(list_input_files({s.path("d"), s.path("d/c.txt")}),
            (std::vector<std::string>{s.path("d/a/z.txt"), s.path("d/b.txt"), s.path("d/c.txt"),
                                      s.path("d/c.txt")}));
  std::filesystem::create_directories(s.path("empty"));
  EXPECT_EQ(refusal([&] { list_input_files({s.path("empty")}); }),
            s.path("empty") + ": is a directory without files to prepare");
  EXPECT_THAT(refusal([] { list_input_files({}); }), HasSubstr("no input files"));
}

TEST(Prepare, AFailureLeavesNoOutputAndKeepsAPreviousDataset) {
  ScratchDir s;
  PrepareOptions o;
  o.inputs = {s.write("good.txt", "some text\n")};
  o.output_prefix = s.path("ds");
  prepare_indexed_dataset(ByteTokenizer(), o);
  const std::string before = testing::read_file(s.path("ds.idx"));
  // The second file is binary: found while streaming, after output files were started.
  o.inputs.push_back(s.write("bad.txt", "line\nline\nx\0y\n"s));
  for (const int threads : {1, 3}) {
    o.threads = threads;
    EXPECT_EQ(
        refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
        s.path("bad.txt") + ": line 3: holds a NUL byte at offset 1 (a binary file, not text)");
    EXPECT_EQ(s.listing(), (std::vector<std::string>{"bad.txt", "ds.bin", "ds.idx", "good.txt"}));
    EXPECT_EQ(testing::read_file(s.path("ds.idx")), before);
  }
  // Refused before anything is written.
  o.inputs = {s.write("blank.txt", "\n\n  \n")};
  o.documents = DocumentBoundary::kBlankLine;
  o.output_prefix = s.path("new");
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("inputs: hold no text to tokenize"));
  o.inputs = {s.path("ds.bin")};
  o.output_prefix = s.path("ds");
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("is an input and also the output"));
  o.inputs = {s.path("missing.txt")};
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("missing.txt: does not exist"));
  o.inputs = {"/dev/zero"};
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("/dev/zero: is a character device"));
  o.inputs = {s.path("good.txt")};
  o.output_prefix = s.path("nodir/ds");
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("does not exist"));
  o.output_prefix = s.path("x");
  o.threads = 0;
  EXPECT_THAT(refusal([&] { prepare_indexed_dataset(ByteTokenizer(), o); }),
              HasSubstr("--threads: is 0"));
  EXPECT_EQ(s.listing(),
            (std::vector<std::string>{"bad.txt", "blank.txt", "ds.bin", "ds.idx", "good.txt"}));
}

}  // namespace
}  // namespace switchyard::train::data
