#include "launch/report/metrics_reader.h"

#include <cmath>
#include <sstream>

#include "core/input_file.h"

namespace switchyard::launch {

std::optional<double> json_number(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

const nlohmann::json* array_at(const nlohmann::json& j, const char* a, const char* b) {
  if (!j.is_object()) return nullptr;
  const auto ia = j.find(a);
  if (ia == j.end() || !ia->is_object()) return nullptr;
  const auto ib = ia->find(b);
  if (ib == ia->end() || !ib->is_array()) return nullptr;
  return &*ib;
}

LayerFigure layer_field(const char* key) {
  return [key](const nlohmann::json& l) { return json_number(l, key); };
}

std::optional<double> layer_mean(const nlohmann::json* layers, const LayerFigure& f) {
  if (layers == nullptr) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (const nlohmann::json& l : *layers) {
    if (const auto v = f(l)) {
      sum += *v;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

RunMetrics parse_run_metrics(const std::string& text, const std::string& path) {
  RunMetrics m;
  m.path = path;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const auto step = json_number(r, "step");
    if (r.is_discarded() || !r.is_object() || !step) {
      ++m.bad_lines;
      continue;
    }
    const auto final_flag = r.find("final");
    if (final_flag != r.end() && final_flag->is_boolean() && final_flag->get<bool>()) {
      if (const auto v = json_number(r, "val_loss")) m.final_val_loss = *v;
      continue;
    }
    m.steps[static_cast<int64_t>(*step)] = std::move(r);
  }
  return m;
}

RunMetrics read_run_metrics(const std::string& path) {
  return parse_run_metrics(read_input_file({path, "metrics file", kMaxMetricsBytes, ""}), path);
}

}  // namespace switchyard::launch
