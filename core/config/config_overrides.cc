#include "core/config/config_overrides.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "core/errors.h"

namespace switchyard::config {
namespace {

namespace pb = google::protobuf;

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  while (true) {
    const auto at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

const char* type_name(const pb::FieldDescriptor* field) {
  return field->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM ? "enum" : field->type_name();
}

std::string enum_choices(const pb::FieldDescriptor* field) {
  std::string names;
  const pb::EnumDescriptor* e = field->enum_type();
  for (int i = 0; i < e->value_count(); ++i) names += (i ? ", " : "") + e->value(i)->name();
  return names;
}

// Text format wants string values quoted; accept them bare on the command line.
std::string as_text_value(const pb::FieldDescriptor* field, const std::string& value) {
  if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) return value;
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

void parse_value(pb::Message* message,
                 const pb::FieldDescriptor* field,
                 const std::string& path,
                 const std::string& value) {
  if (value.empty() && field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
    throw ConfigError(path, std::string("empty value for a field of type ") + type_name(field));
  }
  // A parser with its own (discarding) error collector, so protobuf logs nothing to stderr.
  class Quiet : public pb::io::ErrorCollector {
    void AddError(int, pb::io::ColumnNumber, const std::string&) override {}
  } quiet;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFieldValueFromString(as_text_value(field, value), field, message)) {
    std::string reason = "cannot parse '" + value + "' as " + type_name(field);
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
      reason += " (one of: " + enum_choices(field) + ")";
    }
    throw ConfigError(path, reason);
  }
}

}  // namespace

void apply_override(pb::Message* message, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment, "expected path.to.field=value");
  }
  const std::string path = trim(assignment.substr(0, eq));
  const std::string value = trim(assignment.substr(eq + 1));
  const std::vector<std::string> names = split(path, '.');
  for (const std::string& name : names) {
    // ".x", "a..b", "a." or "": without this check the error named an empty field path.
    if (trim(name).empty()) {
      throw ConfigError("--set " + assignment, "empty field name in the path '" + path + "'");
    }
  }
  pb::Message* current = message;
  std::string walked;
  for (size_t i = 0; i < names.size(); ++i) {
    walked += (i ? "." : "") + names[i];
    const pb::FieldDescriptor* field = current->GetDescriptor()->FindFieldByName(names[i]);
    if (field == nullptr) throw ConfigError(walked, "unknown field in --set " + path);
    const bool last = i + 1 == names.size();
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last) throw ConfigError(path, "is a message; set one of its fields instead");
      if (field->is_repeated()) throw ConfigError(walked, "repeated messages cannot be set");
      current = current->GetReflection()->MutableMessage(current, field);
      continue;
    }
    if (!last) throw ConfigError(walked, "is not a message, so '" + path + "' cannot exist");
    if (!field->is_repeated()) {
      parse_value(current, field, path, value);
      return;
    }
    std::string list = value;
    if (list.size() >= 2 && list.front() == '[' && list.back() == ']') {
      list = list.substr(1, list.size() - 2);
    }
    current->GetReflection()->ClearField(current, field);
    if (trim(list).empty()) return;
    for (const std::string& item : split(list, ',')) parse_value(current, field, path, trim(item));
    return;
  }
}

void apply_overrides(pb::Message* message, const std::vector<std::string>& assignments) {
  for (const std::string& assignment : assignments) apply_override(message, assignment);
}

}  // namespace switchyard::config
