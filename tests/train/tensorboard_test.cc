// TensorBoard event files (train/tensorboard): CRC-32C, TFRecord framing read back by the small
// reader below (lengths and both checksums verified), a hand-made metrics record's scalars and
// histogram read back, tag flattening, and the errors. The files are also read back by
// TensorBoard's own reader in tensorboard_reader_test.py.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "train/tensorboard/crc32c.h"
#include "train/tensorboard/event.pb.h"
#include "train/tensorboard/event_file_writer.h"
#include "train/tensorboard/metric_tags.h"
#include "train/tensorboard/record_writer.h"
#include "train/tensorboard/tensorboard_log.h"

namespace switchyard::tensorboard {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

uint64_t read_le(const std::string& bytes, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
  }
  return v;
}

// Splits a TFRecord file into its records' data; `error` gets the first problem found.
std::vector<std::string> read_records(const std::string& bytes, std::string* error) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 12) {
      *error = "truncated header at " + std::to_string(pos);
      return out;
    }
    const uint64_t length = read_le(bytes, pos, 8);
    if (read_le(bytes, pos + 8, 4) != masked_crc32c(std::string_view(bytes).substr(pos, 8))) {
      *error = "bad length checksum at " + std::to_string(pos);
      return out;
    }
    if (bytes.size() - pos - 12 < length + 4) {
      *error = "truncated data at " + std::to_string(pos);
      return out;
    }
    const std::string data = bytes.substr(pos + 12, length);
    if (read_le(bytes, pos + 12 + length, 4) != masked_crc32c(data)) {
      *error = "bad data checksum at " + std::to_string(pos);
      return out;
    }
    out.push_back(data);
    pos += 16 + length;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<Event> read_events(const std::string& path) {
  std::string error;
  const std::vector<std::string> records = read_records(read_file(path), &error);
  EXPECT_EQ(error, "") << path;
  std::vector<Event> events;
  for (const std::string& r : records) {
    Event e;
    EXPECT_TRUE(e.ParseFromString(r));
    events.push_back(e);
  }
  return events;
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/tensorboard_" + name;
  fs::remove_all(dir);
  return dir;
}

TEST(Crc32c, MatchesTheStandardCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xff
}

TEST(Crc32c, MasksAsTFRecordDoes) {
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc(1), 0xa282ead8u + (1u << 17));
  EXPECT_EQ(mask_crc(0x8000u), 0xa282ead8u + 1u);  // bit 15 rotates to bit 0
  EXPECT_EQ(masked_crc32c("123456789"), mask_crc(0xE3069283u));
}

// The field numbers TensorBoard's reader decodes (its event.proto and summary.proto).
TEST(EventProto, FieldNumbersAreTensorBoards) {
  EXPECT_EQ(Event::kWallTimeFieldNumber, 1);
  EXPECT_EQ(Event::kStepFieldNumber, 2);
  EXPECT_EQ(Event::kFileVersionFieldNumber, 3);
  EXPECT_EQ(Event::kSummaryFieldNumber, 5);
  EXPECT_EQ(Event::kSessionLogFieldNumber, 7);
  EXPECT_EQ(SessionLog::kStatusFieldNumber, 1);
  EXPECT_EQ(SessionLog::START, 1);
  EXPECT_EQ(Summary::kValueFieldNumber, 1);
  EXPECT_EQ(Summary::Value::kTagFieldNumber, 1);
  EXPECT_EQ(Summary::Value::kSimpleValueFieldNumber, 2);
  EXPECT_EQ(Summary::Value::kHistoFieldNumber, 5);
  EXPECT_EQ(HistogramProto::kMinFieldNumber, 1);
  EXPECT_EQ(HistogramProto::kMaxFieldNumber, 2);
  EXPECT_EQ(HistogramProto::kNumFieldNumber, 3);
  EXPECT_EQ(HistogramProto::kSumFieldNumber, 4);
  EXPECT_EQ(HistogramProto::kSumSquaresFieldNumber, 5);
  EXPECT_EQ(HistogramProto::kBucketLimitFieldNumber, 6);
  EXPECT_EQ(HistogramProto::kBucketFieldNumber, 7);
}

TEST(RecordFraming, LayoutIsLengthCrcDataCrc) {
  const std::string framed = frame_record("hello");
  ASSERT_EQ(framed.size(), 5u + 16u);
  EXPECT_EQ(read_le(framed, 0, 8), 5u);
  EXPECT_EQ(read_le(framed, 8, 4), masked_crc32c(framed.substr(0, 8)));
  EXPECT_EQ(framed.substr(12, 5), "hello");
  EXPECT_EQ(read_le(framed, 17, 4), masked_crc32c("hello"));
}

TEST(RecordFraming, RecordsOfAFileReadBack) {
  const std::string dir = fresh_dir("records");
  fs::create_directories(dir);
  const std::string path = dir + "/records";
  const std::string binary("a\0b\xff", 4);
  {
    RecordWriter w(path);
    w.write("first");
    w.write("");
    w.write(binary);
    w.write(std::string(100000, 'x'));
  }
  std::string error;
  const std::vector<std::string> records = read_records(read_file(path), &error);
  EXPECT_EQ(error, "");
  EXPECT_THAT(records, ElementsAre("first", "", binary, std::string(100000, 'x')));

  // A flipped data byte or length byte is caught by the reader's checksums.
  std::string bytes = read_file(path);
  bytes[13] ^= 1;
  read_records(bytes, &error);
  EXPECT_THAT(error, HasSubstr("bad data checksum at 0"));
  bytes = read_file(path);
  bytes[0] ^= 1;
  error.clear();
  read_records(bytes, &error);
  EXPECT_THAT(error, HasSubstr("bad length checksum at 0"));
}

TEST(MetricTags, FlattensNestedObjectsAndArraysAndSkipsNonNumbers) {
  const nlohmann::json record = nlohmann::json::parse(R"({
    "step": 7, "loss": 2.5, "skipped": false, "name": "x", "nothing": null,
    "aux": {"layer1/load_balancing": 1.25},
    "grid": [[1, 2], [3]], "empty": {}, "none": [],
    "moe": {"layers": [{"load_cv": 0.5, "fluctuation": null, "tokens_per_expert": [4, 0]}]},
    "count": 18446744073709551615, "neg": -3
  })");
  std::vector<std::string> tags;
  std::vector<double> values;
  for (const TaggedScalar& s : scalar_values(record)) {
    tags.push_back(s.tag);
    values.push_back(s.value);
  }
  EXPECT_THAT(tags,
              ElementsAre("aux/layer1/load_balancing", "count", "grid/0/0", "grid/0/1", "grid/1/0",
                          "loss", "moe/layers/0/load_cv", "moe/layers/0/tokens_per_expert/0",
                          "moe/layers/0/tokens_per_expert/1", "neg"));
  EXPECT_THAT(values, ElementsAre(1.25, 18446744073709551615.0, 1, 2, 3, 2.5, 0.5, 4, 0, -3));
  // Only the top-level "step" is the step; a nested one is a value.
  ASSERT_EQ(scalar_values(nlohmann::json{{"a", {{"step", 3}}}}).size(), 1u);
  EXPECT_EQ(scalar_values(nlohmann::json{{"a", {{"step", 3}}}})[0].tag, "a/step");
}

TEST(MetricTags, ExpertLoadHistogramHasOneBucketPerExpert) {
  const HistogramProto h = expert_load_histogram({0, 3, 1, 0});
  EXPECT_THAT(h.bucket_limit(), ElementsAre(0.5, 1.5, 2.5, 3.5));
  EXPECT_THAT(h.bucket(), ElementsAre(0, 3, 1, 0));
  EXPECT_EQ(h.num(), 4);
  EXPECT_EQ(h.sum(), 3 * 1 + 1 * 2);
  EXPECT_EQ(h.sum_squares(), 3 * 1 + 1 * 4);
  EXPECT_EQ(h.min(), 1);  // lowest and highest expert with tokens
  EXPECT_EQ(h.max(), 2);
  const HistogramProto empty = expert_load_histogram({0, 0});
  EXPECT_EQ(empty.num(), 0);
  EXPECT_EQ(empty.min(), 0);
  EXPECT_EQ(empty.max(), 0);
}

TEST(MetricTags, HistogramsOnlyForLayersWithANumericLoadArray) {
  const nlohmann::json record = nlohmann::json::parse(R"({"step": 1, "moe": {"layers": [
    {"tokens_per_expert": [1, 2]}, {"load_cv": 1}, {"tokens_per_expert": []},
    {"tokens_per_expert": [1, "x"]}, {"tokens_per_expert": [5, 6, 7]}]}})");
  const std::vector<TaggedHistogram> hs = expert_load_histograms(record);
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0].tag, "moe/layers/0/tokens_per_expert");
  EXPECT_EQ(hs[1].tag, "moe/layers/4/tokens_per_expert");
  EXPECT_THAT(hs[1].histogram.bucket(), ElementsAre(5, 6, 7));
  EXPECT_TRUE(expert_load_histograms(nlohmann::json{{"step", 1}, {"loss", 2}}).empty());
}

TEST(TensorBoardLog, HandMadeRecordReadsBack) {
  const std::string dir = fresh_dir("log");
  TensorBoardLog log(dir);
  EXPECT_EQ(fs::path(log.path()).parent_path(), fs::path(dir));
  const nlohmann::json record = nlohmann::json::parse(R"({
    "step": 12, "loss": 2.75, "lr": 0.001, "skipped": false, "seconds": {"forward": 0.125},
    "moe": {"layers": [{"tokens_per_expert": [6, 2, 0], "load_cv": 0.0},
                       {"tokens_per_expert": [1, 1, 6], "load_cv": 1.5}],
            "a2a": {"inter_node_bytes": 4096}}})");
  log.write_record(record, 1700000000.25);
  log.write_record({{"step", 13}, {"val_loss", 1.5}, {"final", true}}, 1700000001.0);
  log.write_record({{"step", 14}, {"final", true}}, 1700000002.0);  // nothing to write

  const std::vector<Event> events = read_events(log.path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);

  const Event& e = events[1];
  EXPECT_EQ(e.step(), 12);
  EXPECT_EQ(e.wall_time(), 1700000000.25);
  ASSERT_TRUE(e.has_summary());
  std::map<std::string, float> scalars;
  std::map<std::string, HistogramProto> histograms;
  for (const Summary::Value& v : e.summary().value()) {
    if (v.value_case() == Summary::Value::kSimpleValue) scalars[v.tag()] = v.simple_value();
    if (v.value_case() == Summary::Value::kHisto) histograms[v.tag()] = v.histo();
  }
  const std::map<std::string, float> expected = {
      {"loss", 2.75f},
      {"lr", 0.001f},
      {"seconds/forward", 0.125f},
      {"moe/a2a/inter_node_bytes", 4096.0f},
      {"moe/layers/0/load_cv", 0.0f},  // a zero is still written (oneof)
      {"moe/layers/0/tokens_per_expert/0", 6.0f},
      {"moe/layers/0/tokens_per_expert/1", 2.0f},
      {"moe/layers/0/tokens_per_expert/2", 0.0f},
      {"moe/layers/1/load_cv", 1.5f},
      {"moe/layers/1/tokens_per_expert/0", 1.0f},
      {"moe/layers/1/tokens_per_expert/1", 1.0f},
      {"moe/layers/1/tokens_per_expert/2", 6.0f}};
  EXPECT_EQ(scalars, expected);
  ASSERT_EQ(histograms.size(), 2u);
  const HistogramProto& h1 = histograms.at("moe/layers/1/tokens_per_expert");
  EXPECT_THAT(h1.bucket(), ElementsAre(1, 1, 6));
  EXPECT_THAT(h1.bucket_limit(), ElementsAre(0.5, 1.5, 2.5));
  EXPECT_EQ(h1.num(), 8);
  EXPECT_EQ(h1.sum(), 1 + 12);
  EXPECT_EQ(h1.sum_squares(), 1 + 24);
  EXPECT_EQ(h1.min(), 0);
  EXPECT_EQ(h1.max(), 2);
  EXPECT_THAT(histograms.at("moe/layers/0/tokens_per_expert").bucket(), ElementsAre(6, 2, 0));

  EXPECT_EQ(events[2].step(), 13);
  ASSERT_EQ(events[2].summary().value_size(), 1);
  EXPECT_EQ(events[2].summary().value(0).tag(), "val_loss");
  EXPECT_EQ(events[2].summary().value(0).simple_value(), 1.5f);
}

TEST(TensorBoardLog, SessionStartEvent) {
  TensorBoardLog log(fresh_dir("session"));
  log.mark_session_start(41, 1700000000.5);
  log.write_record({{"step", 41}, {"loss", 1.0}}, 1700000001.0);
  const std::vector<Event> events = read_events(log.path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].step(), 41);
  EXPECT_EQ(events[1].wall_time(), 1700000000.5);
  ASSERT_TRUE(events[1].has_session_log());
  EXPECT_EQ(events[1].session_log().status(), SessionLog::START);
  EXPECT_EQ(events[2].summary().value(0).tag(), "loss");
}

TEST(TensorBoardLog, FileNameAndASecondLogInTheSameDirectory) {
  const std::string dir = fresh_dir("names");
  TensorBoardLog a(dir);
  TensorBoardLog b(dir);
  EXPECT_NE(a.path(), b.path());
  const std::string name = fs::path(a.path()).filename().string();
  EXPECT_THAT(name, StartsWith("events.out.tfevents."));
  EXPECT_THAT(name, HasSubstr("." + std::to_string(::getpid())));
  EXPECT_EQ(event_file_name(1700000000, "node1", 42), "events.out.tfevents.1700000000.node1.42");
  EXPECT_EQ(read_events(b.path()).size(), 1u);  // the version event
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TensorBoardLog, UnwritableDirectoryIsAOneLineError) {
  const std::string dir = fresh_dir("unwritable");
  fs::create_directories(dir);
  std::ofstream(dir + "/file") << "x";
  const std::string bad = dir + "/file/run";  // below a regular file: root cannot create it
  const std::string msg = error_of([&] { TensorBoardLog log(bad); });
  EXPECT_THAT(msg, StartsWith("cannot create TensorBoard directory '" + bad + "': "));
  EXPECT_THAT(msg, Not(HasSubstr("\n")));
}

TEST(TensorBoardLog, FullDiskIsAOneLineErrorNamingTheFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  RecordWriter w("/dev/full");
  const std::string msg = error_of([&] { w.write("data"); });
  EXPECT_EQ(msg, "cannot write TensorBoard event file '/dev/full': No space left on device");
}

TEST(TensorBoardLog, RecordWithoutAnIntegerStepIsRefused) {
  TensorBoardLog log(fresh_dir("nostep"));
  EXPECT_THAT(error_of([&] {
                log.write_record({{"loss", 1.0}});
              }),
              HasSubstr("metrics record without an integer \"step\""));
  EXPECT_THAT(error_of([&] {
                log.write_record({{"step", 1.5}, {"loss", 1.0}});
              }),
              HasSubstr("without an integer \"step\""));
  EXPECT_THAT(error_of([&] {
                log.write_record(nlohmann::json::array({1, 2}));
              }),
              HasSubstr(log.path()));
  EXPECT_EQ(read_events(log.path()).size(), 1u);
}

}  // namespace
}  // namespace switchyard::tensorboard
