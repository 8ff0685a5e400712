// `switchyard plot RUN_DIR`: renders <RUN_DIR>/metrics.jsonl with gnuplot into PNGs:
//   loss.png                 training loss per step and validation loss
//   expert_load_layer<N>.png per MoE layer, the share of tokens each expert got, over steps
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/input_file.h"
#include "launch/cli.h"
#include "launch/gnuplot.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;

struct PlotData {
  std::ostringstream train, val;
  std::map<size_t, std::ostringstream> load;  // layer -> "step expert share" rows
  std::map<size_t, size_t> experts_of;
};

// One record of metrics.jsonl (throws nlohmann's errors on unexpected types).
void add_row(const nlohmann::json& r, PlotData* d) {
  const int64_t step = r.value("step", int64_t{0});
  if (r.contains("loss")) d->train << step << ' ' << r.at("loss").get<double>() << '\n';
  if (r.contains("val_loss")) d->val << step << ' ' << r.at("val_loss").get<double>() << '\n';
  if (!r.contains("moe") || !r.at("moe").contains("layers")) return;
  const auto& layers = r.at("moe").at("layers");
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto counts = layers.at(l).at("tokens_per_expert").get<std::vector<double>>();
    double total = 0;
    for (double c : counts) total += c;
    d->experts_of[l] = counts.size();
    for (size_t e = 0; e < counts.size(); ++e) {
      d->load[l] << step << ' ' << e << ' ' << (total > 0 ? counts[e] / total : 0.0) << '\n';
    }
    d->load[l] << '\n';  // gnuplot: one scan line per step
  }
}

int run_plot(const std::vector<std::string>& args) {
  if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
    std::cout << "usage: switchyard plot RUN_DIR\n\n"
              << "Renders RUN_DIR/metrics.jsonl into RUN_DIR/loss.png and, for MoE models,\n"
              << "RUN_DIR/expert_load_layer<N>.png (gnuplot).\n";
    return kExitOk;
  }
  if (args.size() != 2) throw UsageError{"plot", "expected exactly one RUN_DIR"};
  const fs::path dir = args[1];
  require_directory(dir.string(), "run directory");
  const fs::path metrics = dir / "metrics.jsonl";
  try {
    check_input_file({metrics.string(), "metrics file", kMaxMetricsBytes, ""});
  } catch (const ConfigError& e) {
    throw ConfigError(metrics.string(), e.reason() + " (is RUN_DIR a training run directory?)");
  }
  std::ifstream in(metrics);
  if (!in) throw ConfigError(metrics.string(), "cannot be opened");

  PlotData data;
  std::string line;
  int64_t rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++rows;
    try {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (!record.is_object()) {
        throw ConfigError(metrics.string(), "line " + std::to_string(rows) + " is not an object");
      }
      add_row(record, &data);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(metrics.string(),
                        "line " + std::to_string(rows) + " is not a metrics record: " + e.what());
    }
  }
  if (rows == 0) throw ConfigError(metrics.string(), "is empty");
  // Nothing is written above this line: a bad run directory leaves no partial plot files.
  const std::ostringstream& train = data.train;
  const std::ostringstream& val = data.val;
  std::map<size_t, std::ostringstream>& load = data.load;
  std::map<size_t, size_t>& experts_of = data.experts_of;

  const fs::path train_dat = dir / "plot_train.dat", val_dat = dir / "plot_val.dat";
  write_plot_data(train_dat, train.str());
  write_plot_data(val_dat, val.str());
  std::ostringstream script;
  script << "set terminal pngcairo size 900,500\n"
         << "set output '" << (dir / "loss.png").string() << "'\n"
         << "set title 'Loss'\nset xlabel 'step'\nset ylabel 'cross-entropy (nats)'\nset grid\n"
         << "plot '" << train_dat.string() << "' using 1:2 with lines title 'train'";
  if (!val.str().empty())
    script << ", '" << val_dat.string() << "' using 1:2 with linespoints title 'validation'";
  script << "\n";
  run_gnuplot(script.str(), "loss.png");
  std::cout << (dir / "loss.png").string() << "\n";
  for (auto& [layer, rows_text] : load) {
    const fs::path dat = dir / ("plot_load_layer" + std::to_string(layer) + ".dat");
    const fs::path png = dir / ("expert_load_layer" + std::to_string(layer) + ".png");
    write_plot_data(dat, rows_text.str());
    std::ostringstream s;
    s << "set terminal pngcairo size 900,400\nset output '" << png.string() << "'\n"
      << "set title 'MoE layer " << layer << ": share of routed tokens per expert'\n"
      << "set xlabel 'step'\nset ylabel 'expert'\nset cblabel 'share'\n"
      << "set yrange [-0.5:" << experts_of[layer] - 0.5 << "]\nset view map\n"
      << "splot '" << dat.string() << "' using 1:2:3 with image notitle\n";
    run_gnuplot(s.str(), png.filename().string());
    std::cout << png.string() << "\n";
  }
  return kExitOk;
}

}  // namespace

Command plot_command() {
  return {"plot", "render a run's metrics as PNG plots (gnuplot)", run_plot};
}

}  // namespace switchyard::launch
