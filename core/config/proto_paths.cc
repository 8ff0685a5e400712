#include "core/config/proto_paths.h"

#include <cctype>
#include <string>
#include <vector>

namespace switchyard::config {

namespace {

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ".") + p;
  return out;
}

}  // namespace

std::string text_field_path_at(const std::string& text, int line, int column) {
  std::vector<std::string> scope;  // enclosing message fields
  std::string last_field;          // last field name seen in the current scope
  std::string pending;             // field name waiting for its '{'
  int cur_line = 0;
  int cur_col = 0;
  size_t i = 0;
  // Everything before the error position is read, plus a name that starts exactly at it.
  auto past_target = [&]() {
    if (cur_line != line) return cur_line > line;
    return cur_col > column || (cur_col == column && !is_ident_start(text[i]));
  };
  auto advance = [&]() {
    if (text[i] == '\n') {
      ++cur_line;
      cur_col = 0;
    } else {
      ++cur_col;
    }
    ++i;
  };
  while (i < text.size() && !past_target()) {
    const char c = text[i];
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') advance();
      continue;
    }
    if (c == '"' || c == '\'') {
      advance();
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        if (text[i] == '\\' && i + 1 < text.size()) advance();
        advance();
      }
      if (i < text.size()) advance();
      continue;
    }
    if (is_ident_start(c)) {
      std::string word;
      while (i < text.size() && is_ident_char(text[i])) {
        word += text[i];
        advance();
      }
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && (text[j] == ':' || text[j] == '{' || text[j] == '<')) {
        last_field = word;
        pending = word;
      } else if (j >= text.size() || text[j] == '\n') {
        // A name at the end of a line is still a field name ("field" then "{" on the next line).
        if (last_field.empty() || pending.empty()) {
          last_field = word;
          pending = word;
        }
      }
      continue;
    }
    if (c == '{' || c == '<') {
      scope.push_back(pending.empty() ? last_field : pending);
      pending.clear();
      last_field.clear();
    } else if (c == '}' || c == '>') {
      if (!scope.empty()) scope.pop_back();
      pending.clear();
      last_field.clear();
    } else if (c == ';' || c == ',') {
      pending.clear();
    }
    advance();
  }
  if (!last_field.empty()) scope.push_back(last_field);
  return join(scope);
}

}  // namespace switchyard::config
