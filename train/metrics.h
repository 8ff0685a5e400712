// File: train/metrics.h
//
// Where a run reports: one JSON object per line in <run_dir>/metrics.jsonl (rank 0), and the
// human progress line "step 120/600 | loss 2.3141 | lr 9.50e-04 | 41.2k tok/s | ETA 1m32s".
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "models/moe/moe_state.h"

namespace switchyard::train {

class MetricsWriter {
 public:
  // Appends to `path` (created with its directory); an empty path writes nothing.
  explicit MetricsWriter(const std::string& path);
  // One JSON line, flushed; throws Error naming the file when it cannot be written (disk full).
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

struct Progress {
  int64_t step = 0;  // 1-based: steps completed
  int64_t total_steps = 0;
  double loss = 0;
  double learning_rate = 0;
  double tokens_per_second = 0;
  double seconds_left = 0;
};

std::string format_progress(const Progress& p);

// metrics.jsonl's "moe" object: {"layers": [{tokens_per_expert, dropped_fraction, ...}], "a2a":
// {intra/inter-node bytes and messages}}.
nlohmann::json moe_report_json(const models::MoEStepReport& report);

// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);

}  // namespace switchyard::train
