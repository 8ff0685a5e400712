#include "launch/report/run_summary.h"

#include <algorithm>

namespace switchyard::launch {
namespace {

using nlohmann::json;

void put_mean(std::map<std::string, double>* out, const char* key, const std::vector<double>& v) {
  if (v.empty()) return;
  double sum = 0;
  for (double x : v) sum += x;
  (*out)[key] = sum / static_cast<double>(v.size());
}

}  // namespace

const std::vector<MetricInfo>& report_metrics() {
  static const std::vector<MetricInfo> metrics = {
      {"final_val_loss", "final val loss", "validation loss of the final evaluation (nats)"},
      {"best_val_loss", "best val loss", "lowest validation loss of any evaluation (nats)"},
      {"tokens_per_s", "tokens/s", "median training throughput over the steps (global tokens/s)"},
      {"load_cv", "load CV",
       "coefficient of variation of tokens per expert, mean over the second half of the steps "
       "and the MoE layers"},
      {"drop_rate", "drop rate",
       "fraction of routed assignments dropped by capacity, mean over the second half of the "
       "steps and the MoE layers"},
      {"fluctuation", "routing fluctuation",
       "fraction of probe tokens whose expert changed since the previous probe, mean over "
       "probes and layers (logging.routing_probe_every)"},
      {"erc_specialization", "ERC specialization",
       "mean diagonal over mean off-diagonal of the ERC coupling matrix, last step (only with "
       "aux_loss.erc.coeff > 0 or aux_loss.erc.measure)"},
      {"dpsl_prior_fit", "DPSL prior distance",
       "Dirichlet-prior distance of the probe's router scores at the last probe (0 = fits the "
       "prior; logging.routing_probe_every)"},
      {"inter_node_byte_share", "inter-node byte share",
       "inter-node share of all-to-all payload bytes of rank 0, over all steps"},
      {"inter_node_bytes_per_step", "inter-node bytes/step",
       "inter-node bytes of the forward dispatch per step, summed over MoE layers (all ranks)"},
  };
  return metrics;
}

RunSummary summarize_run(const RunMetrics& m) {
  RunSummary s;
  int64_t last_step = m.steps.empty() ? 0 : m.steps.rbegin()->first;
  std::optional<double> best;
  std::vector<double> tps, load_cv, drops, fluct, inter_rows_bytes;
  double intra_total = 0, inter_total = 0;
  bool have_a2a = false;
  std::optional<double> erc, dirichlet;
  std::vector<double> share_sum;
  int share_records = 0;
  for (const auto& [step, r] : m.steps) {
    if (const auto v = json_number(r, "val_loss")) {
      s.val_loss.emplace_back(step, *v);
      best = best ? std::min(*best, *v) : *v;
    }
    if (const auto v = json_number(r, "tokens_per_second")) tps.push_back(*v);
    const json* layers = array_at(r, "moe", "layers");
    const bool late = in_later_half(step, last_step);
    if (late) {
      if (const auto v = layer_mean(layers, layer_field("load_cv"))) load_cv.push_back(*v);
      if (const auto v = layer_mean(layers, layer_field("dropped_fraction"))) drops.push_back(*v);
    }
    if (layers != nullptr) {
      double bytes = 0;
      bool any = false;
      for (const json& l : *layers) {
        if (const auto b = json_number(l, "inter_node_bytes")) {
          bytes += *b;
          any = true;
        }
      }
      if (any) inter_rows_bytes.push_back(bytes);
      const auto ratio = layer_mean(layers, [](const json& l) -> std::optional<double> {
        const auto d = json_number(l, "erc/diag_mean");
        const auto o = json_number(l, "erc/offdiag_mean");
        if (!d || !o || *o <= 0) return std::nullopt;
        return *d / *o;
      });
      if (ratio) erc = ratio;
      if (late) {
        // Per layer: shares sorted descending; summed over layers and records, then averaged.
        std::vector<double> record_share;
        int layer_count = 0;
        for (const json& l : *layers) {
          const auto it = l.is_object() ? l.find("tokens_per_expert") : l.end();
          if (!l.is_object() || it == l.end() || !it->is_array() || it->empty()) continue;
          std::vector<double> counts;
          for (const json& c : *it) counts.push_back(c.is_number() ? c.get<double>() : 0.0);
          double total = 0;
          for (double c : counts) total += c;
          if (total <= 0) continue;
          std::sort(counts.begin(), counts.end(), std::greater<>());
          if (record_share.empty()) record_share.assign(counts.size(), 0.0);
          if (counts.size() != record_share.size()) continue;
          for (size_t e = 0; e < counts.size(); ++e) record_share[e] += counts[e] / total;
          ++layer_count;
        }
        if (layer_count > 0) {
          if (share_sum.empty()) share_sum.assign(record_share.size(), 0.0);
          if (share_sum.size() == record_share.size()) {
            for (size_t e = 0; e < share_sum.size(); ++e)
              share_sum[e] += record_share[e] / layer_count;
            ++share_records;
          }
        }
      }
    }
    const json* a2a = nullptr;
    if (r.is_object() && r.contains("moe") && r["moe"].is_object() && r["moe"].contains("a2a"))
      a2a = &r["moe"]["a2a"];
    if (a2a != nullptr) {
      const auto intra = json_number(*a2a, "intra_node_bytes");
      const auto inter = json_number(*a2a, "inter_node_bytes");
      if (intra && inter) {
        s.intra_bytes.emplace_back(step, *intra);
        s.inter_bytes.emplace_back(step, *inter);
        intra_total += *intra;
        inter_total += *inter;
        have_a2a = true;
      }
    }
    const json* probe = array_at(r, "routing_probe", "layers");
    if (const auto f = layer_mean(probe, layer_field("fluctuation"))) {
      s.fluctuation.emplace_back(step, *f);
      fluct.push_back(*f);
    }
    if (const auto d = layer_mean(probe, layer_field("dirichlet_distance"))) dirichlet = d;
  }
  if (m.final_val_loss) {
    // The final evaluation is at the last step (it replaces a periodic one at that step).
    if (!s.val_loss.empty() && s.val_loss.back().first >= last_step) s.val_loss.pop_back();
    s.val_loss.emplace_back(last_step, *m.final_val_loss);
    best = best ? std::min(*best, *m.final_val_loss) : *m.final_val_loss;
    s.scalars["final_val_loss"] = *m.final_val_loss;
  } else if (!s.val_loss.empty()) {
    s.scalars["final_val_loss"] = s.val_loss.back().second;
  }
  if (best) s.scalars["best_val_loss"] = *best;
  if (!tps.empty()) {
    std::vector<double> sorted = tps;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    s.scalars["tokens_per_s"] =
        n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  }
  put_mean(&s.scalars, "load_cv", load_cv);
  put_mean(&s.scalars, "drop_rate", drops);
  put_mean(&s.scalars, "fluctuation", fluct);
  if (erc) s.scalars["erc_specialization"] = *erc;
  if (dirichlet) s.scalars["dpsl_prior_fit"] = *dirichlet;
  if (have_a2a && intra_total + inter_total > 0)
    s.scalars["inter_node_byte_share"] = inter_total / (intra_total + inter_total);
  put_mean(&s.scalars, "inter_node_bytes_per_step", inter_rows_bytes);
  if (share_records > 0) {
    for (double& v : share_sum) v /= share_records;
    s.load_share = share_sum;
  }
  return s;
}

}  // namespace switchyard::launch
