#include "train/safetensors.h"

#include <cstring>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace switchyard::train {
namespace {

using ::testing::HasSubstr;

std::string temp(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  const NamedTensors tensors = {
      {"f32", at::randn({3, 4})},
      {"f64", at::randn({2}, at::kDouble)},
      {"bf16", at::randn({5, 1}).to(at::kBFloat16)},
      {"i64", at::arange(7, at::kLong)},
      {"i32", at::arange(3, at::kInt)},
      {"u8", at::arange(4, at::kByte)},
      {"bool", at::tensor({1, 0}, at::kByte).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::empty({0, 3})},
      {"strided", at::randn({4, 4}).t()},  // non-contiguous input is written contiguous
  };
  const std::string path = temp("all.safetensors");
  const int64_t bytes = write_safetensors(path, tensors, {{"step", "12"}});
  EXPECT_EQ(bytes, static_cast<int64_t>(slurp(path).size()));
  const SafetensorsFile back = read_safetensors(path);
  EXPECT_EQ(back.metadata.at("step"), "12");
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const at::Tensor& r = back.tensors.at(name);
    EXPECT_EQ(r.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(r.sizes(), t.sizes()) << name;
    EXPECT_TRUE(at::equal(r, t)) << name;
  }
}

// An independent minimal reader: the format as the specification states it, with no code shared
// with ours (header length, JSON header, dtype, shape, raw bytes).
TEST(Safetensors, IndependentReaderAgrees) {
  const at::Tensor w = at::arange(6, at::kFloat).reshape({2, 3}) * 0.5;
  const at::Tensor ids = at::tensor({int64_t{-1}, int64_t{1} << 40});
  const std::string path = temp("spec.safetensors");
  write_safetensors(path, {{"w", w}, {"ids", ids}});
  const std::string file = slurp(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(file[i])) << (8 * i);
  ASSERT_LE(8 + n, file.size());
  EXPECT_EQ((8 + n) % 8, 0u) << "data section is 8-byte aligned";
  const auto header = nlohmann::json::parse(file.substr(8, n));
  EXPECT_EQ(header["w"]["dtype"], "F32");
  EXPECT_EQ(header["w"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["ids"]["dtype"], "I64");
  const auto off = header["w"]["data_offsets"].get<std::vector<size_t>>();
  ASSERT_EQ(off[1] - off[0], 6 * sizeof(float));
  float values[6];
  std::memcpy(values, file.data() + 8 + n + off[0], sizeof values);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(values[i], 0.5f * i);
  const auto off2 = header["ids"]["data_offsets"].get<std::vector<size_t>>();
  int64_t v[2];
  std::memcpy(v, file.data() + 8 + n + off2[0], sizeof v);
  EXPECT_EQ(v[0], -1);
  EXPECT_EQ(v[1], int64_t{1} << 40);
}

std::string error_reading(const std::string& bytes) {
  const std::string path = temp("bad.safetensors");
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string with_header(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(json.size() >> (8 * i));
  return out + json + data;
}

TEST(Safetensors, RejectsMalformedFiles) {
  EXPECT_THAT(error_reading("abc"), HasSubstr("shorter than"));
  EXPECT_THAT(error_reading(with_header("{", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_reading(std::string("\xff\xff\0\0\0\0\0\0{}", 10)),
              HasSubstr("exceeds the file"));
  EXPECT_THAT(error_reading(
                  with_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234")),
              HasSubstr("outside the data section"));
  EXPECT_THAT(error_reading(with_header(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                        "12345678")),
              HasSubstr("shape does not match"));
  EXPECT_THAT(
      error_reading(with_header(R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", "1")),
      HasSubstr("unsupported dtype"));
  EXPECT_THAT(
      error_reading(with_header(
          R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
          "123")),
      HasSubstr("overlap"));
}

// The header is validated before any allocation it sizes: shapes whose byte count overflows or
// exceeds the file, negative or fractional dimensions, offsets past the end and malformed
// metadata are refused with a ConfigError (exit 2 in the tool), never a bad_alloc or a crash.
TEST(Safetensors, RefusesHeadersThatWouldSizeAnAllocationWrongly) {
  struct Case {
    std::string header;
    std::string data;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {R"({"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
       "1234", "shape does not match"},
      {R"({"t":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", "",
       "shape does not match"},
      {R"({"t":{"dtype":"F32","shape":[1000000000000],"data_offsets":[0,4000000000000]}})", "1234",
       "outside the data section"},
      {R"({"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "1", "non-negative"},
      {R"({"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "1", "non-negative"},
      {R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,1]}})", "1",
       "outside the data section"},
      {R"({"t":{"dtype":"U8","shape":[1]}})", "1", "data_offsets"},
      {R"({"t":[1,2]})", "", "not a JSON object"},
      {R"({"__metadata__":{"k":5}})", "", "not a string"},
      {R"({"__metadata__":[]})", "", "__metadata__ is not a JSON object"},
      {R"([1,2,3])", "", "header is not a JSON object"},
  };
  for (const Case& c : cases) {
    const std::string path = temp("bad_header.safetensors");
    std::ofstream(path, std::ios::binary) << with_header(c.header, c.data);
    try {
      read_safetensors(path);
      ADD_FAILURE() << c.header << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(c.reason)) << c.header;
      EXPECT_THAT(e.what(), HasSubstr(path));
    }
  }
}

// A file cut short anywhere (inside the size, the header or the data) is refused.
TEST(Safetensors, RefusesEveryTruncation) {
  const std::string path = temp("whole.safetensors");
  write_safetensors(path, {{"w", at::arange(12, at::kFloat).reshape({3, 4})}});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 56u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string truncated = temp("cut.safetensors");
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, cut);
    EXPECT_THROW(read_safetensors(truncated), ConfigError) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace switchyard::train
