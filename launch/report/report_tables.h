// File: launch/report/report_tables.h
//
// The report's tables: Markdown (an overview of every metric per group, then one table per
// metric with n and the per-seed values), CSV (one row per group and metric) and JSON (groups,
// runs, metrics with their values, and the notes). A metric that no run has is left out of
// every table and named in the notes.
#pragma once

#include <string>
#include <vector>

#include "launch/report/aggregate.h"

namespace switchyard::launch {

// "1.2345 ± 0.0123" (4 significant digits; "± n/a" for one run).
std::string format_mean_std(const Stat& s);

// The notes for metrics no group has.
std::vector<std::string> missing_metric_notes(const std::vector<GroupReport>& groups);

std::string report_markdown(const std::vector<GroupReport>& groups,
                            const std::vector<std::string>& notes);
std::string report_csv(const std::vector<GroupReport>& groups);
std::string report_json(const std::vector<GroupReport>& groups,
                        const std::vector<std::string>& notes);

}  // namespace switchyard::launch
