#include "launch/plan/measured_routing.h"

#include <filesystem>
#include <vector>

#include "core/config/config_loader.h"
#include "core/errors.h"
#include "core/input_file.h"
#include "launch/plan/a2a_cost.h"

namespace switchyard::plan {
namespace {

using nlohmann::json;

std::optional<double> mean(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// Tokens a layer routed in the step: its assignments (sum of tokens_per_expert) / top-k.
std::optional<double> layer_tokens(const json& layer, int64_t top_k) {
  const auto it = layer.find("tokens_per_expert");
  if (it == layer.end() || !it->is_array() || it->empty()) return std::nullopt;
  double assignments = 0;
  for (const json& n : *it) {
    if (!n.is_number()) return std::nullopt;
    assignments += n.get<double>();
  }
  if (assignments <= 0) return std::nullopt;
  return assignments / static_cast<double>(top_k);
}

}  // namespace

MeasuredRouting measured_routing(const launch::RunMetrics& metrics, const RunLayout& layout) {
  if (layout.top_k <= 0 || layout.experts <= 0 || layout.ep <= 0) {
    throw ConfigError(metrics.path, "the run's config has no valid experts / top-k / EP size");
  }
  MeasuredRouting r;
  r.source = metrics.path;
  const int64_t last = metrics.steps.empty() ? 0 : metrics.steps.rbegin()->first;
  // Per step the mean over its MoE layers (as the sweep report does), then over the steps.
  std::vector<double> cv, fraction, remote_nodes;
  const launch::LayerFigure remote_per_token = [&](const json& l) -> std::optional<double> {
    const auto rows = launch::json_number(l, "inter_node_rows");
    const auto tokens = layer_tokens(l, layout.top_k);
    if (!rows || !tokens) return std::nullopt;
    return *rows / *tokens;
  };
  for (const auto& [step, record] : metrics.steps) {
    if (!launch::in_later_half(step, last)) continue;
    const json* layers = launch::array_at(record, "moe", "layers");
    if (layers == nullptr || layers->empty()) continue;
    if (r.records == 0) r.first_step = step;
    r.last_step = step;
    ++r.records;
    if (const auto v = launch::layer_mean(layers, launch::layer_field("load_cv"))) cv.push_back(*v);
    if (const auto v = launch::layer_mean(layers, launch::layer_field("cross_node_fraction"))) {
      fraction.push_back(*v);
    }
    if (const auto v = launch::layer_mean(layers, remote_per_token)) remote_nodes.push_back(*v);
  }
  if (r.records == 0) {
    throw ConfigError(metrics.path,
                      "no step record with MoE layers in the later half of the run (a dense "
                      "model, or a run that logged nothing yet)");
  }
  r.load_cv = mean(cv);
  const int P = layout.ep;
  const int G = layout.ranks_per_node;
  if (G <= 0 || P <= G || P % G != 0) return r;  // one node (or unknown): no locality measured
  const int N = P / G;
  if (const auto f = mean(fraction)) {
    r.inter_node_locality = *f / (static_cast<double>(P - G) / P);
  }
  if (layout.node_dedup) {
    if (const auto d = mean(remote_nodes)) {
      const double uniform =
          (N - 1) * prob_any_in_group(layout.experts, layout.experts / N, layout.top_k);
      if (uniform > 0) r.remote_nodes_locality = *d / uniform;
    }
  }
  return r;
}

MeasuredRouting read_measured_routing(const std::string& run_dir) {
  require_directory(run_dir, "run directory");
  const std::filesystem::path dir(run_dir);
  const config::ExperimentConfig c = config::load_config_file((dir / "config.pbtxt").string());
  RunLayout layout;
  layout.ep = c.parallel().expert_parallel_size();
  layout.ranks_per_node = c.comm().ranks_per_node();
  layout.experts = c.model().moe().num_experts();
  layout.top_k = c.model().moe().router().top_k();
  layout.node_dedup =
      c.comm().deduplicate_tokens() && c.comm().all_to_all() == config::CommConfig::HIERARCHICAL;
  return measured_routing(launch::read_run_metrics((dir / "metrics.jsonl").string()), layout);
}

}  // namespace switchyard::plan
