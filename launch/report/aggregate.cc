#include "launch/report/aggregate.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace switchyard::launch {

Stat describe(const std::vector<double>& values) {
  Stat s;
  s.values = values;
  s.n = values.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (s.n == 0) {
    s.mean = s.std = nan;
    return s;
  }
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) {
    s.std = nan;
    return s;
  }
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(s.n - 1));
  return s;
}

std::vector<SeriesPoint> aggregate_series(const std::vector<StepSeries>& runs) {
  std::map<int64_t, std::vector<double>> by_step;
  for (const StepSeries& run : runs) {
    for (const auto& [step, value] : run) by_step[step].push_back(value);
  }
  std::vector<SeriesPoint> out;
  for (const auto& [step, values] : by_step) out.push_back({step, describe(values)});
  return out;
}

std::vector<GroupReport> aggregate_groups(const std::vector<RunRef>& runs,
                                          const std::vector<RunSummary>& summaries) {
  std::vector<GroupReport> groups;
  std::map<std::string, size_t> index;
  std::vector<std::vector<const RunSummary*>> members;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto [it, fresh] = index.emplace(runs[i].group_key, groups.size());
    if (fresh) {
      groups.push_back({});
      groups.back().key = runs[i].group_key;
      groups.back().label = runs[i].group_label;
      members.emplace_back();
    }
    groups[it->second].runs.push_back(runs[i]);
    members[it->second].push_back(&summaries.at(i));
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    GroupReport& group = groups[g];
    for (const MetricInfo& metric : report_metrics()) {
      std::vector<double> values;
      for (const RunSummary* s : members[g]) {
        const auto it = s->scalars.find(metric.key);
        if (it != s->scalars.end()) values.push_back(it->second);
      }
      if (!values.empty()) group.metrics[metric.key] = describe(values);
    }
    std::vector<StepSeries> val, fluct, intra, inter;
    std::vector<std::vector<double>> shares;
    for (const RunSummary* s : members[g]) {
      val.push_back(s->val_loss);
      fluct.push_back(s->fluctuation);
      intra.push_back(s->intra_bytes);
      inter.push_back(s->inter_bytes);
      if (!s->load_share.empty()) shares.push_back(s->load_share);
    }
    group.val_loss = aggregate_series(val);
    group.fluctuation = aggregate_series(fluct);
    group.intra_bytes = aggregate_series(intra);
    group.inter_bytes = aggregate_series(inter);
    size_t experts = 0;
    for (const auto& s : shares) experts = std::max(experts, s.size());
    for (size_t e = 0; e < experts; ++e) {
      std::vector<double> at;
      for (const auto& s : shares) {
        if (s.size() == experts) at.push_back(s[e]);
      }
      group.load_share.push_back(describe(at));
    }
  }
  return groups;
}

}  // namespace switchyard::launch
