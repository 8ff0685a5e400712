#include "core/config/config_loader.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include "core/config/config_defaults.h"
#include "core/config/config_overrides.h"
#include "core/config/proto_paths.h"
#include "core/errors.h"
#include "core/input_file.h"

namespace switchyard::config {
namespace {

namespace pb = google::protobuf;

// Keeps the first parse error with its position (protobuf reports 0-based line and column).
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}

  bool has_error() const { return has_error_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A config is a regular file of UTF-8 text within kMaxConfigBytes (a directory, FIFO, device or
// dangling link is refused before reading).
std::string read_file(const std::string& path) {
  std::string text = read_input_file({path, "config file", kMaxConfigBytes, ""});
  require_utf8_text(text, path);
  return text;
}

// protobuf's messages name message types ("... in message switchyard.config.ModelConfig");
// rewrite a trailing type name into the user's field path.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string trim_spaces(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

}  // namespace

void parse_text_message(const std::string& text,
                        const std::string& source,
                        google::protobuf::Message* message) {
  FirstErrorCollector errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (parser.ParseFromString(text, message)) return;
  std::string where = source;
  std::string path;
  if (errors.has_error()) {
    where += ":" + std::to_string(errors.line() + 1) + ":" + std::to_string(errors.column() + 1);
    path = text_field_path_at(text, errors.line(), errors.column());
  }
  std::string reason = errors.has_error() ? errors.message() : "cannot parse text format";
  if (reason.find("has no field named") != std::string::npos) reason = "unknown field";
  if (reason.size() >= 5 && reason.compare(reason.size() - 5, 5, "got: ") == 0) {
    reason = "unexpected end of file (is a closing '}' missing?)";
  }
  throw ConfigError(where, (path.empty() ? "" : "field '" + path + "': ") + one_line(reason));
}

ExperimentConfig parse_text_config(const std::string& text, const std::string& source) {
  ExperimentConfig config;
  parse_text_message(text, source, &config);
  return config;
}

ExperimentConfig parse_json_config(const std::string& text, const std::string& source) {
  ExperimentConfig config;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = pb::util::JsonStringToMessage(text, &config, options);
  if (status.ok()) return config;
  // protobuf 3.21 says "(model.moe) num_expert: Cannot find field." or
  // "(model.hidden_size): invalid value ..."; turn the parenthesised prefix into a field path.
  std::string reason = one_line(std::string(status.message()));
  if (!reason.empty() && reason.front() == '(') {
    const auto close = reason.find(')');
    if (close != std::string::npos) {
      std::string path = reason.substr(1, close - 1);
      std::string rest = reason.substr(close + 1);
      const auto colon = rest.find(':');
      if (colon != std::string::npos) {
        const std::string name = trim_spaces(rest.substr(0, colon));
        if (!name.empty()) path += (path.empty() ? "" : ".") + name;
        rest = rest.substr(colon + 1);
      }
      throw ConfigError(source, "field '" + path + "': " + trim_spaces(rest));
    }
  }
  throw ConfigError(source, reason);
}

ExperimentConfig load_config_file(const std::string& path) {
  const std::string text = read_file(path);
  if (ends_with(path, ".json")) return parse_json_config(text, path);
  return parse_text_config(text, path);
}

ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  ExperimentConfig config = load_config_file(path);
  apply_overrides(&config, overrides);
  return config;
}

std::string resolved_config_text(const ExperimentConfig& config) {
  ExperimentConfig resolved = config;
  fill_defaults(&resolved);
  std::string text;
  pb::TextFormat::Printer printer;
  printer.PrintToString(resolved, &text);
  return text;
}

}  // namespace switchyard::config
