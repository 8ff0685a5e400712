// File: launch/report/aggregate.h
//
// Runs grouped by what differs only by seed, each metric as mean and sample standard deviation
// (n - 1 in the denominator; undefined, NaN, for one run) over the group's runs that have it,
// and each series as mean and standard deviation per step over the runs that reached the step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "launch/report/run_discovery.h"
#include "launch/report/run_summary.h"

namespace switchyard::launch {

struct Stat {
  double mean = 0;
  double std = 0;  // sample standard deviation; NaN when n < 2
  size_t n = 0;
  std::vector<double> values;
};

// Mean and sample standard deviation of `values` (n = 0: mean and std NaN).
Stat describe(const std::vector<double>& values);

struct SeriesPoint {
  int64_t step = 0;
  Stat stat;
};

// Per step over the runs that have it, in step order.
std::vector<SeriesPoint> aggregate_series(const std::vector<StepSeries>& runs);

struct GroupReport {
  std::string key;
  std::string label;
  std::vector<RunRef> runs;
  std::map<std::string, Stat> metrics;  // only metrics at least one run has
  std::vector<SeriesPoint> val_loss, fluctuation, intra_bytes, inter_bytes;
  std::vector<Stat> load_share;  // per expert rank (sorted share), over runs that have it
};

// Groups `runs` (summaries[i] belongs to runs[i]) in order of first appearance.
std::vector<GroupReport> aggregate_groups(const std::vector<RunRef>& runs,
                                          const std::vector<RunSummary>& summaries);

}  // namespace switchyard::launch
