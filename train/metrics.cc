#include "train/metrics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/errors.h"

namespace switchyard::train {

MetricsWriter::MetricsWriter(const std::string& path) : path_(path) {
  if (path.empty()) return;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  out_.open(path, std::ios::app);
  if (!out_) throw Error("cannot open metrics file '" + path + "'");
}

void MetricsWriter::write(const nlohmann::json& record) {
  if (!out_.is_open()) return;
  errno = 0;
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) {
    // A full disk must end the run with a message, not lose metrics silently.
    const int err = errno;
    throw Error("cannot write metrics file '" + path_ + "'" +
                (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
  }
}

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

std::string format_progress(const Progress& p) {
  char rate[32];
  if (p.tokens_per_second >= 1e6) {
    std::snprintf(rate, sizeof rate, "%.2fM", p.tokens_per_second / 1e6);
  } else if (p.tokens_per_second >= 1e3) {
    std::snprintf(rate, sizeof rate, "%.1fk", p.tokens_per_second / 1e3);
  } else {
    std::snprintf(rate, sizeof rate, "%.0f", p.tokens_per_second);
  }
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld | loss %.4f | lr %.2e | %s tok/s | ETA %s",
                static_cast<long long>(p.step), static_cast<long long>(p.total_steps), p.loss,
                p.learning_rate, rate, format_duration(p.seconds_left).c_str());
  return line;
}

nlohmann::json moe_report_json(const models::MoEStepReport& report) {
  nlohmann::json layers = nlohmann::json::array();
  for (const models::LayerLoadReport& l : report.layers) {
    nlohmann::json out = {{"tokens_per_expert", l.tokens_per_expert},
                          {"dropped_fraction", l.dropped_fraction},
                          {"router_entropy", l.router_entropy},
                          {"max_over_mean_load", l.max_over_mean_load},
                          {"load_cv", l.load_cv},
                          // Share of the dispatched rows whose expert is on another node.
                          {"cross_node_fraction", l.cross_node_fraction},
                          // Inter-node rows and bytes of the forward dispatch over the world:
                          // sent, and one row per kept cross-node assignment (no dedup).
                          {"inter_node_rows", l.inter_node_rows},
                          {"inter_node_rows_without_dedup", l.inter_node_rows_without_dedup},
                          {"inter_node_bytes", l.inter_node_bytes},
                          {"inter_node_bytes_without_dedup", l.inter_node_bytes_without_dedup}};
    for (const auto& [name, value] : l.router_metrics) out[name] = value;
    layers.push_back(out);
  }
  nlohmann::json r = {{"layers", layers}};
  if (report.has_traffic) {
    // Payload traffic of this step's exchanges (forward and backward), this rank.
    const comm::TrafficCounters& t = report.traffic;
    r["a2a"] = {{"intra_node_bytes", t.intra_node_bytes},
                {"inter_node_bytes", t.inter_node_bytes},
                {"intra_node_messages", t.intra_node_messages},
                {"inter_node_messages", t.inter_node_messages}};
  }
  return r;
}

}  // namespace switchyard::train
