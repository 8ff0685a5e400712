// File: launch/report/run_summary.h
//
// What a report takes from one run's metrics: scalar metrics (each absent when the run's
// metrics.jsonl has nothing to compute it from) and the series the plots draw.
//
// Scalars (report_metrics() lists them with their meaning; "late steps" are the step records
// in the second half of the run, step > last step / 2, where training has settled):
//   final_val_loss       the final evaluation (else the last periodic one)
//   best_val_loss        the lowest evaluation
//   tokens_per_s         median over step records of tokens_per_second
//   load_cv              mean over late steps and MoE layers of moe.layers[].load_cv
//   drop_rate            the same of moe.layers[].dropped_fraction
//   fluctuation          mean over routing probes and layers of routing_probe.layers[].fluctuation
//   erc_specialization   last record with ERC statistics: mean over layers of
//                        erc/diag_mean / erc/offdiag_mean (how much an expert's router row couples
//                        to its own expert more than to others)
//   dpsl_prior_fit       last routing probe: mean over layers of dirichlet_distance (0 = fits)
//   inter_node_byte_share  sum over steps of moe.a2a.inter_node_bytes / (intra + inter)
//   inter_node_bytes_per_step  mean over steps of the sum over layers of inter_node_bytes
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "launch/report/metrics_reader.h"

namespace switchyard::launch {

struct MetricInfo {
  std::string key;
  std::string title;    // column title
  std::string meaning;  // one line
};

// The scalar metrics in report order.
const std::vector<MetricInfo>& report_metrics();

using StepSeries = std::vector<std::pair<int64_t, double>>;

struct RunSummary {
  std::map<std::string, double> scalars;
  StepSeries val_loss;     // periodic evaluations and the final one
  StepSeries fluctuation;  // per routing probe, mean over layers
  StepSeries intra_bytes;  // moe.a2a.intra_node_bytes per step
  StepSeries inter_bytes;  // moe.a2a.inter_node_bytes per step
  // Late-step share of routed tokens per expert, sorted descending within each layer, averaged
  // over layers (expert rank -> share); empty without MoE statistics.
  std::vector<double> load_share;
};

RunSummary summarize_run(const RunMetrics& metrics);

}  // namespace switchyard::launch
