#include "models/moe/moe_state.h"

#include <algorithm>
#include <cmath>

#include "comm/host_collectives.h"
#include "core/check.h"
#include "core/errors.h"

namespace switchyard::models {
namespace {

// One layer's entries of the stats all-reduce: [E] selected, [E] kept, entropy, dispatched
// rows, cross-node rows, inter-node rows, bytes and bytes without dedup, router metrics.
constexpr size_t kScalars = 6;
size_t stats_size(const RoutingStats& s) {
  return 2 * s.tokens_per_expert.size() + kScalars + s.router_metrics.size();
}

void append_stats(const RoutingStats& s, std::vector<double>* out) {
  for (int64_t c : s.tokens_per_expert) out->push_back(static_cast<double>(c));
  for (int64_t c : s.kept_per_expert) out->push_back(static_cast<double>(c));
  out->push_back(s.router_entropy);
  out->push_back(static_cast<double>(s.dispatched_rows));
  out->push_back(static_cast<double>(s.cross_node_rows));
  out->push_back(static_cast<double>(s.inter_node_rows));
  out->push_back(static_cast<double>(s.inter_node_bytes));
  out->push_back(static_cast<double>(s.inter_node_bytes_without_dedup));
  for (const auto& m : s.router_metrics) out->push_back(m.second);
}

// `sums`: the layer's entries summed over `ranks` ranks.
LayerLoadReport layer_report(const RoutingStats& s, const double* sums, int ranks) {
  const auto e = static_cast<int64_t>(s.tokens_per_expert.size());
  LayerLoadReport r;
  r.tokens_per_expert.resize(static_cast<size_t>(e));
  double selected = 0, kept = 0, max_load = 0;
  for (int64_t i = 0; i < e; ++i) {
    r.tokens_per_expert[static_cast<size_t>(i)] = static_cast<int64_t>(sums[i]);
    selected += sums[i];
    kept += sums[e + i];
    max_load = std::max(max_load, sums[i]);
  }
  const double mean = e > 0 ? selected / e : 0.0;
  double var = 0;
  for (int64_t c : r.tokens_per_expert) var += (c - mean) * (c - mean);
  var = e > 0 ? var / e : 0.0;
  const double rows = sums[2 * e + 1];
  r.dropped_fraction = selected > 0 ? 1.0 - kept / selected : 0.0;
  r.router_entropy = sums[2 * e] / ranks;
  r.max_over_mean_load = mean > 0 ? max_load / mean : 0.0;
  r.load_cv = mean > 0 ? std::sqrt(var) / mean : 0.0;
  r.cross_node_fraction = rows > 0 ? sums[2 * e + 2] / rows : 0.0;
  r.inter_node_rows_without_dedup = static_cast<int64_t>(sums[2 * e + 2]);
  r.inter_node_rows = static_cast<int64_t>(sums[2 * e + 3]);
  r.inter_node_bytes = static_cast<int64_t>(sums[2 * e + 4]);
  r.inter_node_bytes_without_dedup = static_cast<int64_t>(sums[2 * e + 5]);
  for (size_t i = 0; i < s.router_metrics.size(); ++i) {
    r.router_metrics.emplace_back(s.router_metrics[i].first, sums[2 * e + kScalars + i] / ranks);
  }
  return r;
}

}  // namespace

void MoEState::add_layer(MoELayer layer) {
  SY_CHECK(host_world_ != nullptr) << "MoE layers need the host world communicator";
  layers_.push_back(std::move(layer));
}

MoEState::MoEState(std::shared_ptr<comm::Communicator> host_world,
                   std::shared_ptr<comm::AllToAll> all_to_all,
                   bool expert_bias_updates)
    : host_world_(std::move(host_world)),
      all_to_all_(std::move(all_to_all)),
      expert_bias_updates_(expert_bias_updates) {
  if (all_to_all_ != nullptr) traffic_sources_.push_back(all_to_all_);
}

void MoEState::add_traffic_source(std::shared_ptr<comm::AllToAll> all_to_all) {
  if (all_to_all != nullptr) traffic_sources_.push_back(std::move(all_to_all));
}

std::vector<std::pair<std::string, double>> MoEState::aux_report() const {
  if (aux_losses_.entries().empty()) return {};
  return aux_losses_.reduce_mean_per_layer(*host_world_);
}

void MoEState::after_optimizer_step() {
  if (!expert_bias_updates_ || layers_.empty()) return;
  // [L * E] selection counts of every layer, summed over the world in one all-reduce.
  std::vector<int64_t> counts;
  for (const MoELayer& l : layers_) {
    const std::vector<int64_t>& c = l->last_plan().selected_per_expert;
    if (c.empty()) return;  // no forward yet
    counts.insert(counts.end(), c.begin(), c.end());
  }
  counts = comm::all_reduce_sum(*host_world_, std::move(counts));
  size_t at = 0;
  for (MoELayer& l : layers_) {
    const auto e = static_cast<size_t>(l->options().num_experts);
    l->update_expert_bias(std::vector<int64_t>(counts.begin() + at, counts.begin() + at + e));
    at += e;
  }
}

MoEStepReport MoEState::step_report() {
  MoEStepReport report;
  if (layers_.empty()) return report;
  // [sum over layers of stats_size] per-layer statistics, summed over the world at once.
  std::vector<double> sums;
  for (const MoELayer& l : layers_) append_stats(l->last_stats(), &sums);
  sums = comm::all_reduce_sum(*host_world_, std::move(sums));
  const int ranks = host_world_->size();
  size_t at = 0;
  for (const MoELayer& l : layers_) {
    report.layers.push_back(layer_report(l->last_stats(), sums.data() + at, ranks));
    at += stats_size(l->last_stats());
  }
  for (const std::shared_ptr<comm::AllToAll>& a2a : traffic_sources_) {
    report.has_traffic = true;
    report.traffic += a2a->traffic();
    a2a->reset_traffic();
  }
  return report;
}

std::vector<int> MoEState::router_stages() const {
  std::vector<int> stages;
  for (MoELayer l : layers_) stages.push_back(l->router().stage());  // (a holder copy)
  return stages;
}

std::vector<std::pair<std::string, at::Tensor>> MoEState::persistent_buffers() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (const auto& item : layers_[i]->named_buffers(/*recurse=*/true)) {
      out.emplace_back("moe." + std::to_string(i) + "." + item.key(), item.value());
    }
  }
  return out;
}

void MoEState::restore_router_stages(const std::vector<int>& stages) {
  if (stages.size() != layers_.size()) {
    throw Error("checkpoint stores " + std::to_string(stages.size()) +
                " router stages, the model has " + std::to_string(layers_.size()) + " MoE layers");
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (stages[i] != 0) layers_[i]->router().restore_stage(stages[i]);
  }
}

}  // namespace switchyard::models
