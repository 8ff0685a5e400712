#include "launch/report/report_tables.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

namespace switchyard::launch {
namespace {

std::string number(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Full precision for machine-readable output.
std::string exact(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

bool any_group_has(const std::vector<GroupReport>& groups, const std::string& key) {
  for (const GroupReport& g : groups) {
    if (g.metrics.count(key) > 0) return true;
  }
  return false;
}

std::string seeds_of(const GroupReport& g) {
  std::string out;
  for (const RunRef& r : g.runs)
    out += (out.empty() ? "" : ",") + (r.seed ? std::to_string(*r.seed) : std::string("?"));
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string format_mean_std(const Stat& s) { return number(s.mean) + " ± " + number(s.std); }

std::vector<std::string> missing_metric_notes(const std::vector<GroupReport>& groups) {
  std::vector<std::string> notes;
  for (const MetricInfo& m : report_metrics()) {
    if (!any_group_has(groups, m.key))
      notes.push_back("no run has " + m.key + " (" + m.meaning + "): left out");
  }
  return notes;
}

std::string report_markdown(const std::vector<GroupReport>& groups,
                            const std::vector<std::string>& notes) {
  std::ostringstream md;
  size_t runs = 0;
  for (const GroupReport& g : groups) runs += g.runs.size();
  md << "# Report\n\n"
     << runs << " run(s) in " << groups.size()
     << " group(s); a group is the runs that differ only by seed. Cells are mean ± sample "
        "standard deviation over the group's runs that have the metric (n runs; n/a for one).\n";
  std::vector<const MetricInfo*> shown;
  for (const MetricInfo& m : report_metrics()) {
    if (any_group_has(groups, m.key)) shown.push_back(&m);
  }
  md << "\n## Overview\n\n| group | seeds |";
  for (const MetricInfo* m : shown) md << " " << m->title << " |";
  md << "\n| --- | --- |";
  for (size_t i = 0; i < shown.size(); ++i) md << " --- |";
  md << "\n";
  for (const GroupReport& g : groups) {
    md << "| " << g.label << " | " << seeds_of(g) << " |";
    for (const MetricInfo* m : shown) {
      const auto it = g.metrics.find(m->key);
      md << " " << (it == g.metrics.end() ? "—" : format_mean_std(it->second)) << " |";
    }
    md << "\n";
  }
  for (const MetricInfo* m : shown) {
    md << "\n## " << m->title << " (`" << m->key << "`)\n\n"
       << m->meaning << ".\n\n"
       << "| group | mean ± std | n | values |\n| --- | --- | --- | --- |\n";
    for (const GroupReport& g : groups) {
      const auto it = g.metrics.find(m->key);
      if (it == g.metrics.end()) {
        md << "| " << g.label << " | — | 0 | |\n";
        continue;
      }
      std::string values;
      for (double v : it->second.values) values += (values.empty() ? "" : ", ") + number(v);
      md << "| " << g.label << " | " << format_mean_std(it->second) << " | " << it->second.n
         << " | " << values << " |\n";
    }
  }
  if (!notes.empty()) {
    md << "\n## Notes\n\n";
    for (const std::string& n : notes) md << "- " << n << "\n";
  }
  return md.str();
}

std::string report_csv(const std::vector<GroupReport>& groups) {
  std::ostringstream csv;
  csv << "group,metric,mean,std,n,values\n";
  for (const GroupReport& g : groups) {
    for (const MetricInfo& m : report_metrics()) {
      const auto it = g.metrics.find(m.key);
      if (it == g.metrics.end()) continue;
      std::string values;
      for (double v : it->second.values) values += (values.empty() ? "" : ";") + exact(v);
      csv << csv_field(g.label) << "," << m.key << "," << exact(it->second.mean) << ","
          << exact(it->second.std) << "," << it->second.n << "," << values << "\n";
    }
  }
  return csv.str();
}

std::string report_json(const std::vector<GroupReport>& groups,
                        const std::vector<std::string>& notes) {
  nlohmann::json out = {{"groups", nlohmann::json::array()}, {"notes", notes}};
  for (const GroupReport& g : groups) {
    nlohmann::json runs = nlohmann::json::array();
    for (const RunRef& r : g.runs) {
      nlohmann::json run = {{"dir", r.dir}};
      run["seed"] = r.seed ? nlohmann::json(*r.seed) : nlohmann::json(nullptr);
      runs.push_back(run);
    }
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [key, s] : g.metrics) {
      metrics[key] = {{"mean", s.mean},
                      {"std", std::isnan(s.std) ? nlohmann::json(nullptr) : nlohmann::json(s.std)},
                      {"n", s.n},
                      {"values", s.values}};
    }
    out["groups"].push_back({{"group", g.label}, {"runs", runs}, {"metrics", metrics}});
  }
  return out.dump(2) + "\n";
}

}  // namespace switchyard::launch
