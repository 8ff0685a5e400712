#include "launch/report/report_plots.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "launch/gnuplot.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;

// "x mean low high" rows; a single run has no band (low = high = mean).
std::string band_rows(const std::vector<std::pair<double, Stat>>& points) {
  std::ostringstream rows;
  rows.precision(10);
  for (const auto& [x, s] : points) {
    const double sd = std::isnan(s.std) ? 0.0 : s.std;
    rows << x << ' ' << s.mean << ' ' << s.mean - sd << ' ' << s.mean + sd << '\n';
  }
  return rows.str();
}

std::vector<std::pair<double, Stat>> from_series(const std::vector<SeriesPoint>& series) {
  std::vector<std::pair<double, Stat>> out;
  for (const SeriesPoint& p : series) out.emplace_back(static_cast<double>(p.step), p.stat);
  return out;
}

std::string header(const fs::path& png,
                   const std::string& title,
                   const std::string& xlabel,
                   const std::string& ylabel) {
  std::ostringstream s;
  s << "set terminal pngcairo size 900,500 noenhanced\n"
    << "set output '" << png.string() << "'\n"
    << "set title '" << title << "'\nset xlabel '" << xlabel << "'\nset ylabel '" << ylabel
    << "'\nset grid\nset key outside right\nset style fill transparent solid 0.2 noborder\n";
  return s.str();
}

using Getter = std::vector<SeriesPoint> GroupReport::*;

// One band plot of a per-step series; false when no group has data.
bool band_plot(const std::vector<GroupReport>& groups,
               Getter series,
               const fs::path& dir,
               const std::string& name,
               const std::string& title,
               const std::string& ylabel) {
  std::ostringstream plot;
  bool any = false;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& points = groups[g].*series;
    if (points.empty()) continue;
    const fs::path dat = dir / ("plot_" + name + "_" + std::to_string(g) + ".dat");
    write_plot_data(dat.string(), band_rows(from_series(points)));
    plot << (any ? ", " : "plot ") << "'" << dat.string() << "' using 1:3:4 with filledcurves lc "
         << g + 1 << " notitle, '" << dat.string() << "' using 1:2 with linespoints lc " << g + 1
         << " pt 7 ps 0.5 title '" << groups[g].label << " (n=" << groups[g].runs.size() << ")'";
    any = true;
  }
  if (!any) return false;
  const fs::path png = dir / (name + ".png");
  run_gnuplot(header(png, title, "step", ylabel) + plot.str() + "\n", png.filename().string());
  return true;
}

bool load_plot(const std::vector<GroupReport>& groups, const fs::path& dir) {
  std::ostringstream plot;
  bool any = false;
  size_t experts = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& share = groups[g].load_share;
    if (share.empty()) continue;
    experts = std::max(experts, share.size());
    std::vector<std::pair<double, Stat>> points;
    for (size_t e = 0; e < share.size(); ++e) points.emplace_back(static_cast<double>(e), share[e]);
    const fs::path dat = dir / ("plot_expert_load_" + std::to_string(g) + ".dat");
    write_plot_data(dat.string(), band_rows(points));
    plot << (any ? ", " : "plot ") << "'" << dat.string() << "' using 1:3:4 with filledcurves lc "
         << g + 1 << " notitle, '" << dat.string() << "' using 1:2 with linespoints lc " << g + 1
         << " pt 7 title '" << groups[g].label << "'";
    any = true;
  }
  if (!any) return false;
  plot << ", " << 1.0 / static_cast<double>(experts)
       << " with lines dt 2 lc rgb 'black' title 'uniform target 1/E'";
  const fs::path png = dir / "expert_load.png";
  run_gnuplot(header(png, "Share of routed tokens per expert (sorted; second half of the steps)",
                     "expert rank (most loaded first)", "share of tokens") +
                  "set xtics 1\n" + plot.str() + "\n",
              png.filename().string());
  return true;
}

bool bytes_plot(const std::vector<GroupReport>& groups, const fs::path& dir) {
  std::ostringstream plot;
  bool any = false;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].inter_bytes.empty()) continue;
    for (int kind = 0; kind < 2; ++kind) {
      const auto& series = kind == 0 ? groups[g].intra_bytes : groups[g].inter_bytes;
      const std::string what = kind == 0 ? "intra" : "inter";
      const fs::path dat = dir / ("plot_a2a_" + what + "_" + std::to_string(g) + ".dat");
      write_plot_data(dat.string(), band_rows(from_series(series)));
      plot << (any ? ", " : "plot ") << "'" << dat.string() << "' using 1:2 with lines lc " << g + 1
           << " dt " << (kind == 0 ? 1 : 2) << " title '" << groups[g].label << " " << what
           << "-node'";
      any = true;
    }
  }
  if (!any) return false;
  const fs::path png = dir / "a2a_bytes.png";
  run_gnuplot(
      header(png, "All-to-all payload bytes per step (rank 0; mean over seeds)", "step", "bytes") +
          plot.str() + "\n",
      png.filename().string());
  return true;
}

}  // namespace

std::vector<std::string> write_report_plots(const std::vector<GroupReport>& groups,
                                            const std::string& out_dir,
                                            std::vector<std::string>* notes) {
  const fs::path dir(out_dir);
  std::vector<std::string> written;
  auto note = [&](bool drawn, const std::string& png, const std::string& why) {
    if (drawn)
      written.push_back((dir / png).string());
    else
      notes->push_back(png + " not drawn: " + why);
  };
  note(band_plot(groups, &GroupReport::val_loss, dir, "val_loss", "Validation loss (mean ± std)",
                 "cross-entropy (nats)"),
       "val_loss.png", "no run has a validation loss");
  note(band_plot(groups, &GroupReport::fluctuation, dir, "fluctuation",
                 "Routing fluctuation between probes (mean ± std)", "fraction of probe tokens"),
       "fluctuation.png", "no run has routing probes (logging.routing_probe_every)");
  note(load_plot(groups, dir), "expert_load.png", "no run has MoE load statistics");
  note(bytes_plot(groups, dir), "a2a_bytes.png", "no run has all-to-all traffic (moe.a2a)");
  return written;
}

}  // namespace switchyard::launch
