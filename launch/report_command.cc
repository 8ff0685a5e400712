// `switchyard report DIR... [--out DIR] [--format md,csv,json] [--no-plots]`: tables and plots
// over runs and sweeps, runs that differ only by seed aggregated as mean ± std (docs/sweeps.md).
#include <filesystem>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "core/errors.h"
#include "launch/cli.h"
#include "launch/command_args.h"
#include "launch/report/aggregate.h"
#include "launch/report/report_plots.h"
#include "launch/report/report_tables.h"
#include "launch/report/run_discovery.h"
#include "launch/sweep/atomic_write.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

int run_report(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  std::string out, formats = "md,csv,json";
  bool help = false, no_plots = false;
  po::options_description shown("options");
  shown.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "out", po::value(&out), "output directory (default: <first DIR>/report)")(
      "format", po::value(&formats), "tables to write, comma-separated: md,csv,json (default all)")(
      "no-plots", po::bool_switch(&no_plots), "write the tables only");
  parse_command_args(args, shown, {{"dir", po::value(&dirs)->composing(), -1}});
  if (help) {
    std::cout << "usage: switchyard report DIR... [options]\n\n"
              << "Each DIR is a run directory (metrics.jsonl) or a sweep directory. Runs that\n"
              << "differ only by seed are one group; every metric is reported as mean ± sample\n"
              << "std over the group. Writes report.md/.csv/.json and PNG plots (gnuplot).\n\n"
              << shown;
    return kExitOk;
  }
  if (dirs.empty()) throw UsageError{"report", "expected at least one run or sweep DIR"};
  bool md = false, csv = false, json = false;
  std::stringstream list(formats);
  for (std::string f; std::getline(list, f, ',');) {
    if (f == "md") {
      md = true;
    } else if (f == "csv") {
      csv = true;
    } else if (f == "json") {
      json = true;
    } else {
      throw UsageError{"report", "--format: unknown format '" + f + "' (md, csv, json)"};
    }
  }
  if (out.empty()) out = (fs::path(dirs[0]) / "report").string();

  // Everything is read and checked before anything is written.
  std::vector<std::string> notes;
  const std::vector<RunRef> runs = discover_runs(dirs, &notes);
  if (runs.empty()) throw ConfigError(dirs[0], "has no finished run to report");
  std::vector<RunSummary> summaries;
  for (const RunRef& r : runs) {
    const RunMetrics m = read_run_metrics((fs::path(r.dir) / "metrics.jsonl").string());
    if (m.bad_lines > 0)
      notes.push_back(m.path + ": " + std::to_string(m.bad_lines) +
                      " line(s) that are not metrics records skipped");
    summaries.push_back(summarize_run(m));
  }
  const std::vector<GroupReport> groups = aggregate_groups(runs, summaries);
  for (const std::string& n : missing_metric_notes(groups)) notes.push_back(n);

  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error("cannot create '" + out + "': " + ec.message());
  std::vector<std::string> written;
  if (!no_plots) written = write_report_plots(groups, out, &notes);
  if (md) {
    write_file_atomically(out + "/report.md", report_markdown(groups, notes));
    written.insert(written.begin(), out + "/report.md");
  }
  if (csv) {
    write_file_atomically(out + "/report.csv", report_csv(groups));
    written.push_back(out + "/report.csv");
  }
  if (json) {
    write_file_atomically(out + "/report.json", report_json(groups, notes));
    written.push_back(out + "/report.json");
  }
  std::cout << runs.size() << " run(s) in " << groups.size() << " group(s)\n";
  for (const std::string& w : written) std::cout << w << "\n";
  return kExitOk;
}

}  // namespace

Command report_command() {
  return {"report", "tables and plots over runs and sweeps (mean ± std over seeds)", run_report};
}

}  // namespace switchyard::launch
