#include "launch/plan/cluster_loader.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "core/config/proto_paths.h"
#include "core/errors.h"
#include "core/input_file.h"
#include "launch/plan/preset_table.h"

namespace switchyard::plan {
namespace {

namespace pb = google::protobuf;

class FirstError : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (has_) return;
    has_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}
  bool has_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

void require_positive(bool present,
                      double value,
                      const std::string& field,
                      const std::string& src) {
  if (!present) throw ConfigError(src, "field '" + field + "': missing (required)");
  if (!(value > 0) || !std::isfinite(value)) {
    throw ConfigError(src,
                      "field '" + field + "': must be > 0 (got " + std::to_string(value) + ")");
  }
}

void validate_link(const Link& link, const std::string& name, const std::string& src) {
  require_positive(link.has_bandwidth_gbps(), link.bandwidth_gbps(), name + ".bandwidth_gbps", src);
  if (!link.has_latency_us()) {
    throw ConfigError(src, "field '" + name + ".latency_us': missing (required)");
  }
  if (!(link.latency_us() >= 0) || !std::isfinite(link.latency_us())) {
    throw ConfigError(src, "field '" + name + ".latency_us': must be >= 0");
  }
  if (!(link.wire_latency_us() >= 0) || !std::isfinite(link.wire_latency_us())) {
    throw ConfigError(src, "field '" + name + ".wire_latency_us': must be >= 0");
  }
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : preset_texts()) names.emplace_back(name);
  return names;
}

void validate_cluster(const ClusterSpec& c, const std::string& src) {
  require_positive(c.has_nodes(), c.nodes(), "nodes", src);
  require_positive(c.has_ranks_per_node(), c.ranks_per_node(), "ranks_per_node", src);
  if (c.physical_hosts() < 0) throw ConfigError(src, "field 'physical_hosts': must be >= 0");
  if (c.cpu_hosts() < 0) throw ConfigError(src, "field 'cpu_hosts': must be >= 0");
  if (!c.has_intra_node()) throw ConfigError(src, "field 'intra_node': missing (required)");
  validate_link(c.intra_node(), "intra_node", src);
  if (!c.has_inter_node()) throw ConfigError(src, "field 'inter_node': missing (required)");
  validate_link(c.inter_node(), "inter_node", src);
  if (c.has_host_staging()) validate_link(c.host_staging(), "host_staging", src);
  require_positive(true, c.nics_per_node(), "nics_per_node", src);
  require_positive(c.has_gemm_tflops_fp32(), c.gemm_tflops_fp32(), "gemm_tflops_fp32", src);
  if (c.has_gemm_tflops_bf16()) {
    require_positive(true, c.gemm_tflops_bf16(), "gemm_tflops_bf16", src);
  }
  require_positive(c.has_memory_bandwidth_gbps(), c.memory_bandwidth_gbps(),
                   "memory_bandwidth_gbps", src);
  require_positive(c.has_memory_gib(), c.memory_gib(), "memory_gib", src);
  if (!(c.phase_overhead_us() >= 0)) {
    throw ConfigError(src, "field 'phase_overhead_us': must be >= 0");
  }
}

ClusterSpec parse_cluster_text(const std::string& text, const std::string& source) {
  ClusterSpec spec;
  FirstError errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &spec)) {
    std::string where = source;
    std::string path;
    if (errors.has_) {
      where += ":" + std::to_string(errors.line_ + 1) + ":" + std::to_string(errors.column_ + 1);
      path = config::text_field_path_at(text, errors.line_, errors.column_);
    }
    std::string reason = errors.has_ ? errors.message_ : "cannot parse text format";
    if (reason.find("has no field named") != std::string::npos) reason = "unknown field";
    for (char& ch : reason) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    throw ConfigError(where, (path.empty() ? "" : "field '" + path + "': ") + reason);
  }
  validate_cluster(spec, source);
  return spec;
}

ClusterSpec load_cluster(const std::string& name_or_path) {
  const bool is_name = name_or_path.find('/') == std::string::npos &&
                       name_or_path.find('.') == std::string::npos && !name_or_path.empty();
  if (is_name) {
    for (const auto& [name, text] : preset_texts()) {
      if (name == name_or_path) {
        return parse_cluster_text(std::string(text), "preset '" + name_or_path + "'");
      }
    }
    std::string known;
    for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("--cluster", "unknown preset '" + name_or_path + "' (presets: " + known +
                                       "; or a path to a cluster file)");
  }
  std::string text = read_input_file({name_or_path, "cluster file", kMaxConfigBytes, ""});
  require_utf8_text(text, name_or_path);
  return parse_cluster_text(text, name_or_path);
}

}  // namespace switchyard::plan
