#include "launch/plan_calibrate.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>

#include <ATen/ATen.h>
#include <google/protobuf/text_format.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/input_file.h"
#include "launch/cli.h"
#include "launch/plan/bench_predict.h"
#include "launch/plan/cluster_loader.h"
#include "launch/plan/fit_alpha_beta.h"
#include "launch/report/metrics_reader.h"
#include "launch/sweep/atomic_write.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;

std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the switchyard executable (/proc/self/exe): " + ec.message());
  return p.string();
}

void run_command(const std::string& command) {
  std::cerr << "switchyard plan --calibrate: " << command << "\n";
  const int status = std::system(command.c_str());
  if (status != 0) {
    throw Error("calibration run failed (status " + std::to_string(status) + "): " + command);
  }
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_input_file({path, "benchmark output", kMaxMetricsBytes, ""}));
}

plan::A2aAlgorithm algorithm_of(const std::string& method, bool* known) {
  *known = true;
  if (method == "flat") return plan::A2aAlgorithm::kFlat;
  if (method == "hierarchical") return plan::A2aAlgorithm::kHierarchical;
  if (method == "leader") return plan::A2aAlgorithm::kLeader;
  *known = false;
  return plan::A2aAlgorithm::kFlat;
}

// The model's time for one measured exchange on `cluster`.
double model_time(const plan::ClusterSpec& cluster,
                  const plan::Layout& layout,
                  plan::A2aAlgorithm alg,
                  int64_t bytes) {
  return plan::predict_bench_a2a(cluster, layout, alg, bytes).time.total();
}

plan::ClusterSpec with_links(plan::ClusterSpec c, double latency_us, double gbps, double over_us) {
  for (plan::Link* l : {c.mutable_intra_node(), c.mutable_inter_node()}) {
    l->set_latency_us(latency_us);
    l->set_bandwidth_gbps(gbps);
    l->set_scope(plan::Link::PER_HOST);
  }
  c.set_phase_overhead_us(over_us);
  return c;
}

// A number of a benchmark's JSON output that must be > 0; one ConfigError naming the file and the
// field otherwise.
double positive(const nlohmann::json& row, const char* key, const std::string& path) {
  const std::optional<double> v = json_number(row, key);
  if (!v || !(*v > 0)) {
    throw ConfigError(path, std::string("field '") + key + "': missing, not a number or not > 0");
  }
  return *v;
}

// The rate at which the host's element-wise operators move bytes (read + written), every core:
// add, GELU, softmax and layer norm over [1024, 512] float32 (2 MiB), the kinds of operator the
// model prices as passes over memory. On a CPU the transcendental ones are compute-bound: on the
// 2-core host they run at ~6 GB/s per core where a streaming add runs at ~25 GB/s. Best
// of 10 rounds of 20 after a warm-up.
double measure_elementwise_gbps() {
  const at::Tensor x = at::rand({1024, 512});
  const at::Tensor y = at::rand({1024, 512});
  const double bytes = static_cast<double>(x.numel()) * 4;
  double best = 1e30;
  for (int round = 0; round < 11; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
      (void)at::add(x, y);
      (void)at::gelu(x);
      (void)at::softmax(x, -1);
      (void)at::layer_norm(x, {512});
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (round > 0) best = std::min(best, s);
  }
  return 20 * (3 + 2 + 2 + 2) * bytes / best / 1e9;  // add reads 2 and writes 1; the others 1 + 1
}

}  // namespace

int run_calibrate(const CalibrateArgs& args) {
  if (args.ranks < 2 || args.ranks % 2 != 0) {
    throw UsageError{"plan", "--calibrate-ranks must be even and >= 2 (2 emulated nodes)"};
  }
  plan::ClusterSpec cluster = plan::load_cluster(args.base);
  const std::string exe = self_executable();
  const fs::path dir =
      fs::temp_directory_path() / ("switchyard-calibrate-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string a2a_json = (dir / "a2a.json").string();
  const std::string moe_json = (dir / "moe.json").string();
  const int G = args.ranks / 2;
  const std::string mpirun =
      "mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 "
      "-x OPENBLAS_NUM_THREADS=1 ";
  if (args.from_a2a.empty()) {
    run_command(mpirun + "-np " + std::to_string(args.ranks) + " '" + exe +
                "' bench a2a --ranks-per-node " + std::to_string(G) +
                " --max-bytes 4194304 --iters " + std::to_string(args.iters) + " --json '" +
                a2a_json + "' > /dev/null");
  }
  // The MoE layer at the a2a run's ranks and threads: the GEMM figure is then what the host gives
  // R single-threaded ranks sharing its cores, as training runs them (one rank with every core
  // runs these small GEMMs less efficiently: 0.072 vs 0.117 TFLOP/s on the 2-core host).
  plan::MoeLayerBench bench;
  bench.tokens = 1024;
  if (args.from_moe.empty()) {
    run_command(mpirun + "-np " + std::to_string(args.ranks) + " '" + exe +
                "' bench moe-layer --ranks-per-node " + std::to_string(G) + " --tokens " +
                std::to_string(bench.tokens) + " --hidden " + std::to_string(bench.hidden) +
                " --ffn " + std::to_string(bench.ffn) + " --experts " +
                std::to_string(bench.experts) + " --top-k " + std::to_string(bench.top_k) +
                " --capacity-factors 0 --iters " + std::to_string(args.iters) + " --json '" +
                moe_json + "' > /dev/null");
  }

  // Links: one host, so intra and inter are the same shared memory (PER_HOST).
  const plan::Layout layout{args.ranks, args.ranks, G, 1};
  const std::string a2a_path = args.from_a2a.empty() ? a2a_json : args.from_a2a;
  const nlohmann::json a2a = read_json(a2a_path);
  std::vector<plan::LinearSample> samples;
  const plan::ClusterSpec unit_a = with_links(cluster, 1e6, 1e12, 0);  // alpha = 1 s
  const plan::ClusterSpec unit_b = with_links(cluster, 0, 1e-9, 0);    // 1 s per byte
  const plan::ClusterSpec unit_c = with_links(cluster, 0, 1e12, 1e6);  // overhead 1 s
  if (!a2a.is_object() || !a2a.contains("results") || !a2a["results"].is_array()) {
    throw ConfigError(a2a_path, "field 'results': missing or not a list");
  }
  for (const auto& r : a2a["results"]) {
    bool known = false;
    const auto method = r.is_object() ? r.find("method") : r.end();
    if (!r.is_object() || method == r.end() || !method->is_string()) {
      throw ConfigError(a2a_path, "field 'results[].method': missing or not a string");
    }
    const plan::A2aAlgorithm alg = algorithm_of(method->get<std::string>(), &known);
    if (!known) continue;
    const auto bytes = static_cast<int64_t>(positive(r, "bytes_per_peer", a2a_path));
    plan::LinearSample s;
    s.a = model_time(unit_a, layout, alg, bytes);
    s.b = model_time(unit_b, layout, alg, bytes);
    s.c = model_time(unit_c, layout, alg, bytes);
    s.measured_s = positive(r, "latency_us", a2a_path) * 1e-6;
    samples.push_back(s);
  }
  if (samples.empty()) throw ConfigError(a2a_path, "no flat, hierarchical or leader rows");
  const plan::AlphaBetaFit fit = plan::fit_alpha_beta(samples);
  const double gbps = fit.inv_bandwidth_s_per_byte > 0 ? 1e-9 / fit.inv_bandwidth_s_per_byte : 1e3;
  cluster = with_links(cluster, fit.alpha_s * 1e6, gbps, fit.overhead_s * 1e6);
  // GEMM: the dense chain of bench moe-layer, [T k, d] x [d, F] -> [F, d], forward + backward:
  // 3 x 2 GEMMs of 2 T k d F FLOPs on each of the run's R ranks at once: the host's figure is R
  // chains per dense_ms (compute_shared_by_host divides it among the ranks again).
  const std::string moe_path = args.from_moe.empty() ? moe_json : args.from_moe;
  const nlohmann::json moe = read_json(moe_path);
  if (!moe.is_array() || moe.empty())
    throw ConfigError(moe_path, "not a non-empty list of results");
  const nlohmann::json& row = moe.front();
  const int moe_ranks =
      row.contains("ranks") ? static_cast<int>(positive(row, "ranks", moe_path)) : 1;
  const double dense_s = positive(row, "dense_ms", moe_path) * 1e-3;
  const double flops = 12.0 * bench.tokens * bench.top_k * bench.hidden * bench.ffn;
  cluster.set_gemm_tflops_fp32(moe_ranks * flops / dense_s / 1e12);
  cluster.set_compute_shared_by_host(true);
  cluster.set_physical_hosts(1);
  // Memory bandwidth: the model prices element-wise work as passes over memory, so the figure is
  // the rate of the host's element-wise operators, measured directly. (Fitting it to the MoE
  // layer instead is ill-conditioned here: the layer's element-wise share is a few percent of
  // its time, inside the noise of its GEMMs; the fit ran to its 1000 GB/s bound in three
  // calibrations and to 46 GB/s in a fourth.) The MoE layer is a check, printed and kept in the
  // file's source.
  cluster.set_memory_bandwidth_gbps(measure_elementwise_gbps());
  const double moe_s = positive(row, "moe_ms", moe_path) * 1e-3;
  const plan::Layout moe_layout = moe_ranks >= 2
                                      ? plan::Layout{moe_ranks, moe_ranks, moe_ranks / 2, 1}
                                      : plan::Layout{1, 1, 1, 1};
  const double moe_pred_s =
      plan::predict_bench_moe_layer(cluster, moe_layout, plan::A2aAlgorithm::kFlat, bench).total();
  const double moe_err = (moe_pred_s - moe_s) / moe_s * 100;

  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  char source[320];
  std::snprintf(
      source, sizeof source,
      "calibrated %s: bench a2a %d ranks as 2x%d (fit median error %.0f%%, max %.0f%%), "
      "bench moe-layer %d rank(s) (dense GEMMs; the layer predicted %+.0f%%), element-wise "
      "operator rate",
      when, args.ranks, G, fit.median_abs_rel_error * 100, fit.max_abs_rel_error * 100, moe_ranks,
      moe_err);
  cluster.set_source(source);
  std::string text;
  google::protobuf::TextFormat::PrintToString(cluster, &text);
  write_file_atomically(
      args.out, "# Written by `switchyard plan --calibrate` (" + std::string(when) + ").\n" + text);
  std::printf(
      "alpha %.2f us, bandwidth %.3f GB/s, phase overhead %.1f us, GEMM %.4f TFLOP/s, "
      "memory %.2f GB/s (element-wise operators) (host); fit over %zu exchanges: median error "
      "%.1f%%, max %.1f%%\ncheck: bench moe-layer %.2f ms, predicted %.2f ms (%+.0f%%)\nwrote %s\n",
      fit.alpha_s * 1e6, gbps, fit.overhead_s * 1e6, cluster.gemm_tflops_fp32(),
      cluster.memory_bandwidth_gbps(), samples.size(), fit.median_abs_rel_error * 100,
      fit.max_abs_rel_error * 100, moe_s * 1e3, moe_pred_s * 1e3, moe_err, args.out.c_str());
  fs::remove_all(dir);
  return kExitOk;
}

}  // namespace switchyard::launch
