// File: launch/report/metrics_reader.h
//
// Reading a run's metrics.jsonl for reports, tolerantly: runs of older versions lack fields and
// newer ones add some, so nothing but the JSON syntax of a line is required. A line that is not
// a JSON object (a cut last line of a killed run) is counted and skipped; a step record that
// appears twice (a run resumed from a checkpoint appends the steps after it again) keeps the
// later one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace switchyard::launch {

struct RunMetrics {
  std::string path;
  std::map<int64_t, nlohmann::json> steps;  // step records ("step" and no "final") by step
  std::optional<double> final_val_loss;     // the {"final": true} record's val_loss
  int64_t bad_lines = 0;                    // lines skipped: not a JSON object with a step
};

// Reads `path` (a regular file within kMaxMetricsBytes; ConfigError otherwise).
RunMetrics read_run_metrics(const std::string& path);

// Parses metrics text (what read_run_metrics does after reading); `path` is recorded only.
RunMetrics parse_run_metrics(const std::string& text, const std::string& path);

// The number at `key` of object `j`, if `j` is an object and the value is a finite number.
std::optional<double> json_number(const nlohmann::json& j, const char* key);

// The array at j[a][b] (a step record's "moe"/"layers"), or nullptr.
const nlohmann::json* array_at(const nlohmann::json& j, const char* a, const char* b);

// A per-layer figure: the number a layer record holds, if any.
using LayerFigure = std::function<std::optional<double>(const nlohmann::json&)>;

// The layer record's number at `key` (json_number).
LayerFigure layer_field(const char* key);

// Mean over `layers` (an array, or nullptr) of `f`; layers without the figure do not count.
std::optional<double> layer_mean(const nlohmann::json* layers, const LayerFigure& f);

// Whether `step` belongs to the later half of a run whose last logged step is `last_step`: the
// steps over which reports and the planner average router figures (early routing is not yet
// what training makes of it).
inline bool in_later_half(int64_t step, int64_t last_step) { return step > last_step / 2; }

}  // namespace switchyard::launch
