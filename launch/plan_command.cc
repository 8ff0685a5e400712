// `switchyard plan EXPERIMENT --cluster PRESET|FILE [--world N|N..M] [--json] [--sweep-world
//  8,64,...] [--calibrate --out FILE]`: the predicted step time of every candidate layout of an
// experiment on a cluster (launch/plan/, docs/planner.md), and a recommendation.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "core/config/config_loader.h"
#include "core/errors.h"
#include "launch/cli.h"
#include "launch/plan/bench_predict.h"
#include "launch/plan/cluster_loader.h"
#include "launch/plan/measured_routing.h"
#include "launch/plan/step_plan.h"
#include "launch/plan_calibrate.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
using plan::A2aAlgorithm;

struct PlanArgs {
  std::string file;
  std::vector<std::string> sets;
  std::string cluster;
  std::string world;
  std::string sweep_world;
  std::string predict_bench;
  std::string bytes = "1024,4096,16384,65536,262144,1048576,4194304";
  std::string capacity_factors = "0,1.25";
  int64_t bench_tokens = 4096;
  int64_t bench_hidden = 256;  // bench moe-layer's defaults
  int64_t bench_ffn = 1024;
  int ranks_per_node = 0;
  int physical_hosts = -1;
  double load_cv = 0.1;
  double inter_node_fraction = -1;
  double distinct_remote_nodes = -1;
  std::string from_run;  // a run directory whose metrics.jsonl gives the three figures above
  bool scale_experts = false;
  bool json = false;
  bool calibrate = false;
  CalibrateArgs calib;
  bool help = false;
};

std::vector<int64_t> parse_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError{"plan", "--" + option + ": '" + item + "' is not a positive integer"};
    }
  }
  if (out.empty()) throw UsageError{"plan", "--" + option + ": empty list"};
  return out;
}

std::vector<double> parse_doubles(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const double v = std::stod(item, &used);
      if (used != item.size() || v < 0) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError{"plan", "--" + option + ": '" + item + "' is not a number >= 0"};
    }
  }
  return out;
}

// "N" or "N..M" (powers of two from N to M, and M).
std::vector<int> parse_world(const std::string& text, int fallback) {
  if (text.empty()) return {fallback};
  const auto dots = text.find("..");
  if (dots == std::string::npos) return {static_cast<int>(parse_list(text, "world").at(0))};
  const int lo = static_cast<int>(parse_list(text.substr(0, dots), "world").at(0));
  const int hi = static_cast<int>(parse_list(text.substr(dots + 2), "world").at(0));
  if (hi < lo) throw UsageError{"plan", "--world N..M needs N <= M"};
  std::vector<int> out;
  for (int w = lo; w < hi; w *= 2) out.push_back(w);
  out.push_back(hi);
  return out;
}

std::string gib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", bytes / (1024.0 * 1024.0 * 1024.0));
  return b;
}

nlohmann::json to_json(const plan::StepPrediction& p) {
  return {{"world", p.layout.world},
          {"ep", p.layout.ep},
          {"ep_nodes", p.layout.ep_nodes()},
          {"ep_ranks_per_node", p.layout.ep_ranks_per_node()},
          {"algorithm", plan::a2a_name(p.algorithm)},
          {"capacity_factor", p.capacity_factor},
          {"step_ms", p.step_s * 1e3},
          {"compute_ms", p.compute.total() * 1e3},
          {"expert_gemm_ms", p.compute.expert_s * 1e3},
          {"a2a_intra_ms", p.a2a.intra_s * 1e3},
          {"a2a_inter_ms", p.a2a.inter_s * 1e3},
          {"a2a_exchange_ms", p.a2a_exchange_s * 1e3},
          {"allreduce_ms", p.allreduce_s * 1e3},
          {"optimizer_ms", p.optimizer_s * 1e3},
          {"tokens_per_s", p.tokens_per_s},
          {"inter_node_bytes_per_rank", p.inter_bytes_per_rank},
          {"memory_gib", p.memory.total() / (1024.0 * 1024.0 * 1024.0)},
          {"memory_limit_gib", p.memory_limit / (1024.0 * 1024.0 * 1024.0)},
          {"fits", p.fits}};
}

void print_table(const std::vector<plan::StepPrediction>& c, int recommended) {
  std::printf("%-3s %5s %5s %-13s %5s %10s %9s %8s %8s %9s %7s %12s %8s %4s\n", "", "ranks", "EP",
              "all-to-all", "cap", "step_ms", "compute", "intra", "inter", "allreduce", "optim",
              "tokens/s", "mem_GiB", "fits");
  for (size_t i = 0; i < c.size(); ++i) {
    const plan::StepPrediction& p = c[i];
    char cap[16];
    std::snprintf(cap, sizeof cap, p.capacity_factor > 0 ? "%.2f" : "drop0", p.capacity_factor);
    std::printf("%-3s %5d %5d %-13s %5s %10.3f %9.3f %8.3f %8.3f %9.3f %7.3f %12.0f %8s %4s\n",
                static_cast<int>(i) == recommended ? "=>" : "", p.layout.world, p.layout.ep,
                plan::a2a_name(p.algorithm).c_str(), p.capacity_factor > 0 ? cap : "none",
                p.step_s * 1e3, p.compute.total() * 1e3, p.a2a.intra_s * 1e3, p.a2a.inter_s * 1e3,
                p.allreduce_s * 1e3, p.optimizer_s * 1e3, p.tokens_per_s,
                gib(p.memory.total()).c_str(), p.fits ? "yes" : "NO");
  }
}

int run_sweep(const PlanArgs& a,
              const plan::ClusterSpec& cluster,
              const plan::ModelShape& base,
              int base_world,
              int G) {
  const std::vector<int64_t> worlds = parse_list(a.sweep_world, "sweep-world");
  nlohmann::json out = nlohmann::json::array();
  if (!a.json) {
    std::printf("%7s %6s %5s %-13s %10s %12s %12s %14s\n", "ranks", "E", "EP", "all-to-all",
                "step_ms", "exchange_ms", "vs_flat", "tokens/s");
  }
  for (int64_t w : worlds) {
    plan::ModelShape m = base;
    // Weak scaling: tokens per rank stay those of the experiment at its own world size.
    m.global_batch = std::max<int64_t>(1, base.global_batch * w / base_world);
    const int64_t ep_cfg = std::max<int64_t>(1, base.experts);
    if (a.scale_experts) m.experts = std::max<int64_t>(ep_cfg, ep_cfg * w / base_world);
    int64_t ep = std::min<int64_t>(w, m.experts);
    while (ep > 1 && (w % ep != 0 || m.experts % ep != 0)) --ep;
    const plan::Layout layout{static_cast<int>(w), static_cast<int>(ep), G,
                              a.physical_hosts >= 0 ? a.physical_hosts : 0};
    double flat_exchange = 0;
    for (A2aAlgorithm alg : {A2aAlgorithm::kFlat, A2aAlgorithm::kHierarchical,
                             A2aAlgorithm::kLeader, A2aAlgorithm::kHierarchicalDedup}) {
      if (!plan::a2a_applies(alg, layout) && alg != A2aAlgorithm::kFlat) continue;
      const plan::StepPrediction p = plan::predict_step(cluster, m, layout, alg);
      if (alg == A2aAlgorithm::kFlat) flat_exchange = p.a2a.total();
      const double vs = p.a2a.total() > 0 ? flat_exchange / p.a2a.total() : 1.0;
      if (a.json) {
        nlohmann::json j = to_json(p);
        j["experts"] = m.experts;
        j["a2a_speedup_vs_flat"] = vs;
        out.push_back(j);
      } else {
        std::printf("%7lld %6lld %5lld %-13s %10.3f %12.3f %11.2fx %14.0f\n",
                    static_cast<long long>(w), static_cast<long long>(m.experts),
                    static_cast<long long>(ep), plan::a2a_name(alg).c_str(), p.step_s * 1e3,
                    p.a2a_exchange_s * 1e3, vs, p.tokens_per_s);
      }
    }
  }
  if (a.json)
    std::cout << out.dump(2) << "\n";
  else
    std::printf("vs_flat = flat's exchange time of a step / this algorithm's (> 1: faster)\n");
  return kExitOk;
}

// --predict-bench a2a|moe-layer: what `switchyard bench ...` would measure on this layout.
int run_predict_bench(const PlanArgs& a, const plan::ClusterSpec& cluster, const plan::Layout& l) {
  nlohmann::json out = nlohmann::json::array();
  const std::vector<A2aAlgorithm> algs = {A2aAlgorithm::kFlat, A2aAlgorithm::kHierarchical,
                                          A2aAlgorithm::kLeader, A2aAlgorithm::kHierarchicalDedup};
  if (a.bench_tokens < 1 || a.bench_hidden < 1 || a.bench_ffn < 1) {
    throw UsageError{"plan", "--bench-tokens, --bench-hidden and --bench-ffn must be >= 1"};
  }
  if (a.predict_bench == "a2a") {
    for (int64_t bytes : parse_list(a.bytes, "bytes")) {
      for (A2aAlgorithm alg : algs) {
        if (alg == A2aAlgorithm::kHierarchicalDedup) continue;
        if (alg != A2aAlgorithm::kFlat && !plan::a2a_applies(alg, l)) continue;
        const plan::ExchangeCost c = plan::predict_bench_a2a(cluster, l, alg, bytes);
        out.push_back({{"bytes_per_peer", bytes},
                       {"method", plan::a2a_name(alg)},
                       {"latency_us", c.time.total() * 1e6},
                       {"intra_us", c.time.intra_s * 1e6},
                       {"inter_us", c.time.inter_s * 1e6},
                       {"rank0_intra_messages", c.rank0_total.intra_node_messages},
                       {"rank0_inter_messages", c.rank0_total.inter_node_messages}});
      }
    }
  } else if (a.predict_bench == "moe-layer") {
    for (double cf : parse_doubles(a.capacity_factors, "capacity-factors")) {
      for (A2aAlgorithm alg : algs) {
        if (alg == A2aAlgorithm::kLeader) continue;  // bench moe-layer has no leader mode
        if (alg != A2aAlgorithm::kFlat && !plan::a2a_applies(alg, l)) continue;
        plan::MoeLayerBench b;
        b.tokens = a.bench_tokens;
        b.hidden = a.bench_hidden;
        b.ffn = a.bench_ffn;
        b.capacity_factor = cf;
        b.load_cv = a.load_cv;
        const plan::MoeLayerPrediction p = plan::predict_bench_moe_layer(cluster, l, alg, b);
        out.push_back({{"capacity_factor", cf},
                       {"method", plan::a2a_name(alg)},
                       {"moe_ms", p.total() * 1e3},
                       {"compute_ms", p.compute_s * 1e3},
                       {"comm_ms", p.comm.total() * 1e3}});
      }
    }
  } else {
    throw UsageError{"plan", "--predict-bench takes a2a or moe-layer"};
  }
  if (a.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& row : out) std::cout << row.dump() << "\n";
  }
  return kExitOk;
}

int run_plan(const std::vector<std::string>& args) {
  PlanArgs a;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&a.help), "show this help")(
      "cluster", po::value(&a.cluster),
      "a preset name (see --help) or a cluster file (launch/plan/cluster.proto, text format)")(
      "set", po::value(&a.sets)->composing(), "override an experiment field: --set path=value")(
      "world", po::value(&a.world),
      "ranks N, or N..M (powers of two); default: parallel.world_size, else the cluster's")(
      "ranks-per-node", po::value(&a.ranks_per_node)->default_value(0),
      "ranks per node (default: the cluster's)")("physical-hosts",
                                                 po::value(&a.physical_hosts)->default_value(-1),
                                                 "hosts the nodes share (default: the cluster's)")(
      "json", po::bool_switch(&a.json), "print JSON instead of the table")(
      "sweep-world", po::value(&a.sweep_world),
      "comma-separated world sizes: how each all-to-all scales (weak scaling)")(
      "scale-experts", po::bool_switch(&a.scale_experts),
      "with --sweep-world: experts grow with the world (experts per rank constant)")(
      "load-cv", po::value(&a.load_cv)->default_value(0.1),
      "router load coefficient of variation (measured: metrics.jsonl)")(
      "inter-node-fraction", po::value(&a.inter_node_fraction)->default_value(-1),
      "expected fraction of rows leaving the node (locality routers; -1 = uniform)")(
      "distinct-remote-nodes", po::value(&a.distinct_remote_nodes)->default_value(-1),
      "expected distinct remote nodes per token for dedup (-1 = uniform top-k)")(
      "from-run", po::value(&a.from_run),
      "a training run's directory: its load CV and its locality (inter-node rows and remote "
      "nodes per token relative to uniform routing) from metrics.jsonl, later half of the "
      "steps; an option above wins")(
      "predict-bench", po::value(&a.predict_bench),
      "a2a | moe-layer: predict what `switchyard bench` measures on this layout")(
      "bytes", po::value(&a.bytes)->default_value(a.bytes), "with --predict-bench a2a")(
      "capacity-factors", po::value(&a.capacity_factors)->default_value(a.capacity_factors),
      "with --predict-bench moe-layer")("bench-tokens",
                                        po::value(&a.bench_tokens)->default_value(4096),
                                        "with --predict-bench moe-layer: tokens per rank")(
      "bench-hidden", po::value(&a.bench_hidden)->default_value(256),
      "with --predict-bench moe-layer: model width d (bench moe-layer --hidden)")(
      "bench-ffn", po::value(&a.bench_ffn)->default_value(1024),
      "with --predict-bench moe-layer: expert FFN width (bench moe-layer --ffn)")(
      "calibrate", po::bool_switch(&a.calibrate),
      "run the benchmarks here (mpirun) and write a cluster file with fitted figures")(
      "out", po::value(&a.calib.out), "with --calibrate: the cluster file to write")(
      "calibrate-ranks", po::value(&a.calib.ranks)->default_value(4),
      "with --calibrate: ranks of the benchmark runs")("calibrate-iters",
                                                       po::value(&a.calib.iters)->default_value(10),
                                                       "with --calibrate: iterations per size")(
      "calibrate-from-a2a", po::value(&a.calib.from_a2a),
      "with --calibrate: fit to this `bench a2a --json` output instead of running it")(
      "calibrate-from-moe", po::value(&a.calib.from_moe),
      "with --calibrate: fit to this `bench moe-layer --json` output");
  po::options_description all;
  all.add(options).add_options()("file", po::value(&a.file));
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (a.help) {
    std::cout << "usage: switchyard plan FILE --cluster PRESET|CLUSTER_FILE [--world N|N..M] "
                 "[--json] [--sweep-world 8,64,512,4096]\n"
                 "       switchyard plan --calibrate --out CLUSTER_FILE [--cluster BASE]\n\n"
                 "Predicts the step time of every candidate layout (EP size, all-to-all, capacity)"
                 "\nof an experiment on a cluster and recommends one (docs/planner.md).\n"
                 "Presets:";
    for (const std::string& n : plan::preset_names()) std::cout << " " << n;
    std::cout << "\n\n" << options;
    return kExitOk;
  }
  if (a.calibrate) {
    if (a.calib.out.empty()) throw UsageError{"plan", "--calibrate needs --out FILE"};
    a.calib.base = a.cluster.empty() ? "this_machine" : a.cluster;
    return run_calibrate(a.calib);
  }
  if (a.cluster.empty()) throw UsageError{"plan", "missing --cluster PRESET|FILE"};
  plan::ClusterSpec cluster = plan::load_cluster(a.cluster);  // ConfigError: one line, exit 2
  if (a.ranks_per_node < 0) throw UsageError{"plan", "--ranks-per-node must be >= 0"};
  const int G = a.ranks_per_node > 0 ? a.ranks_per_node : cluster.ranks_per_node();
  if (a.physical_hosts < 0) a.physical_hosts = cluster.physical_hosts();
  plan::Layout bench_layout;
  if (!a.predict_bench.empty()) {
    const std::vector<int> w = parse_world(a.world, cluster.nodes() * G);
    bench_layout = plan::Layout{w[0], w[0], G, a.physical_hosts};
    return run_predict_bench(a, cluster, bench_layout);
  }
  if (a.file.empty()) throw UsageError{"plan", "missing experiment FILE"};
  const config::ExperimentConfig cfg = config::load_config(a.file, a.sets);
  plan::ModelShape model = plan::model_shape_of(cfg);
  model.load_cv = a.load_cv;
  model.inter_node_fraction = a.inter_node_fraction;
  model.distinct_remote_nodes = a.distinct_remote_nodes;
  std::string measured_line;  // what --from-run supplied, shown with the plan
  nlohmann::json measured_json;
  if (!a.from_run.empty()) {
    const plan::MeasuredRouting r = plan::read_measured_routing(a.from_run);
    // An option given on the command line wins over the run's figure.
    const auto take = [&](const char* option, const std::optional<double>& v, double* into,
                          const char* name) {
      if (!v || !vm[option].defaulted()) return;
      *into = *v;
      measured_json[name] = *v;
      char figure[32];
      std::snprintf(figure, sizeof figure, "%.3f", *v);
      measured_line += std::string(measured_line.empty() ? "" : ", ") + name + " " + figure;
    };
    take("load-cv", r.load_cv, &model.load_cv, "load_cv");
    take("inter-node-fraction", r.inter_node_locality, &model.inter_node_locality,
         "inter_node_locality");
    take("distinct-remote-nodes", r.remote_nodes_locality, &model.remote_nodes_locality,
         "remote_nodes_locality");
    measured_json["source"] = r.source;
    measured_json["steps"] = {r.first_step, r.last_step};
    measured_line = "measured by " + r.source + " (steps " + std::to_string(r.first_step) + "-" +
                    std::to_string(r.last_step) +
                    "): " + (measured_line.empty() ? "none taken" : measured_line) +
                    (r.inter_node_locality ? "" : " (the run had one node: no locality measured)");
  }
  const int cfg_world =
      cfg.parallel().world_size() > 0 ? cfg.parallel().world_size() : cluster.nodes() * G;
  if (!a.sweep_world.empty()) return run_sweep(a, cluster, model, cfg_world, G);
  nlohmann::json out;
  out["cluster"] = cluster.name();
  out["cluster_source"] = cluster.source();
  out["experiment"] = a.file;
  if (!measured_json.is_null()) out["measured_routing"] = measured_json;
  for (int world : parse_world(a.world, cfg_world)) {
    plan::ModelShape m = model;
    const std::vector<plan::StepPrediction> c =
        plan::plan_candidates(cluster, m, world, G, a.physical_hosts);
    const plan::Recommendation rec = plan::recommend(c, m.capacity_factor);
    if (a.json) {
      nlohmann::json w;
      w["world"] = world;
      w["ranks_per_node"] = G;
      for (const auto& p : c) w["candidates"].push_back(to_json(p));
      w["recommended"] = rec.index >= 0 ? to_json(c[rec.index]) : nlohmann::json();
      w["reason"] = rec.reason;
      out["plans"].push_back(w);
    } else {
      std::printf("switchyard plan: %s on %s (%s), %d ranks, %d per node%s\n", a.file.c_str(),
                  cluster.name().c_str(), cluster.source().c_str(), world, G,
                  a.physical_hosts > 0
                      ? (", " + std::to_string(a.physical_hosts) + " physical host(s)").c_str()
                      : "");
      std::printf(
          "model: %lld layers (%lld MoE), H=%lld, E=%lld, top-%lld, %lld tokens/step, "
          "load CV %.2f; times per step in ms\n",
          static_cast<long long>(m.layers), static_cast<long long>(m.moe_layers),
          static_cast<long long>(m.hidden), static_cast<long long>(m.experts),
          static_cast<long long>(m.top_k), static_cast<long long>(m.global_batch * m.seq),
          m.load_cv);
      if (!measured_line.empty()) std::printf("router figures %s\n", measured_line.c_str());
      print_table(c, rec.index);
      std::printf("recommendation: %s\n", rec.reason.c_str());
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

Command plan_command() {
  return {"plan",
          "predict step time per layout (EP size, all-to-all, capacity) on a cluster preset or "
          "file; --calibrate fits this machine",
          run_plan};
}

}  // namespace switchyard::launch
