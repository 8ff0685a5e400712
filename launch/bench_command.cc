// `switchyard bench a2a [--ranks-per-node G] [--min-bytes B] [--max-bytes B] [--iters N]
//                      [--warmup N] [--json FILE]`
//
// All-to-all benchmark, run under mpirun: for bytes per peer from --min-bytes to --max-bytes
// (x4 steps), times raw MPI_Alltoallv, the MPI backend's all_to_all into a preallocated output
// ("comm_prealloc") and the flat, hierarchical, leader and inter-node-first strategies in the same
// run, interleaved per iteration (barrier, then the operation). Latency = median over iterations of
// the per-rank time, max over ranks. Algorithm bandwidth = bytes each rank sends (W x bytes per
// peer, self included) / latency. Traffic counts come from the strategies' counters (one exchange,
// summed over all ranks); raw MPI_Alltoallv moves what flat moves.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "comm/a2a/make_all_to_all.h"
#include "comm/all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "launch/bench_allreduce_command.h"
#include "launch/bench_common.h"
#include "launch/bench_data_command.h"
#include "launch/bench_moe_command.h"
#include "launch/cli.h"
#include "launch/mpi_session.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct BenchArgs {
  int ranks_per_node = 0;
  int64_t min_bytes = 1024;
  int64_t max_bytes = 4 << 20;
  int iters = 20;
  int warmup = 3;
  std::string json;
  bool help = false;
};

struct Result {
  std::string method;
  int64_t bytes_per_peer = 0;
  double latency_us = 0;
  double algbw_gbps = 0;  // GB/s (1e9 bytes)
  double ratio_to_raw = 0;
  comm::TrafficCounters traffic;  // one exchange, summed over all ranks
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

comm::TrafficCounters sum_over_world(const comm::TrafficCounters& c) {
  int64_t v[5] = {c.intra_node_messages, c.intra_node_bytes, c.inter_node_messages,
                  c.inter_node_bytes, c.exchanges};
  MPI_Allreduce(MPI_IN_PLACE, v, 5, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  comm::TrafficCounters s;
  s.intra_node_messages = v[0];
  s.intra_node_bytes = v[1];
  s.inter_node_messages = v[2];
  s.inter_node_bytes = v[3];
  s.exchanges = v[4];
  return s;
}

std::string human_bytes(int64_t b) {
  if (b >= (1 << 20)) return std::to_string(b >> 20) + " MiB";
  if (b >= 1024) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " B";
}

int run_a2a(const BenchArgs& args) {
  MpiSession session(MpiSession::ThreadLevel::kSerialized);
  auto world = bench_world_communicator();
  const int W = world->size();
  const int me = world->rank();
  comm::TopologyOptions topo_options;
  topo_options.ranks_per_node = args.ranks_per_node;
  const comm::Topology topo = comm::detect_topology(MPI_COMM_WORLD, topo_options);
  const comm::ProcessGroups groups = comm::build_process_groups(world, topo, W);
  std::vector<std::shared_ptr<comm::AllToAll>> strategies = {
      comm::make_all_to_all(comm::AllToAllAlgorithm::kFlat, groups)};
  if (groups.expert_is_node_contiguous) {
    strategies.push_back(comm::make_all_to_all(comm::AllToAllAlgorithm::kHierarchical, groups));
    strategies.push_back(comm::make_all_to_all(comm::AllToAllAlgorithm::kLeader, groups));
    strategies.push_back(comm::make_all_to_all(comm::AllToAllAlgorithm::kInterFirst, groups));
  }
  MPI_Comm raw_comm = world->mpi_comm();
  const int64_t kHidden = 256;  // float32 rows of 1 KiB
  const int64_t row_bytes = kHidden * 4;
  if (me == 0) {
    std::printf(
        "switchyard bench a2a: %d ranks, %s, %d iterations (median, max over ranks), "
        "%d warm-up\n",
        W, topo.to_string().c_str(), args.iters, args.warmup);
  }
  std::vector<Result> results;
  for (int64_t bytes = args.min_bytes; bytes <= args.max_bytes; bytes *= 4) {
    const int64_t rows = std::max<int64_t>(1, bytes / row_bytes);  // per peer
    const int64_t elems_per_peer = bytes / 4;
    // Layout rows of kHidden floats when bytes >= 1 KiB; else rows of bytes/4 floats.
    const int64_t hidden = bytes >= row_bytes ? kHidden : elems_per_peer;
    const comm::AllToAllLayout layout =
        comm::AllToAllLayout::exchange_counts(*groups.expert, std::vector<int64_t>(W, rows));
    const at::Tensor input = at::randn({rows * W, hidden}, at::kFloat);  // [W * rows, hidden]
    at::Tensor raw_out = at::empty_like(input);
    const int peer_bytes = static_cast<int>(rows * hidden * 4);
    std::vector<int> counts(W, peer_bytes);
    std::vector<int> displs(W);
    for (int p = 0; p < W; ++p) displs[p] = p * peer_bytes;
    // Methods: 0 raw MPI_Alltoallv, 1 the backend's all_to_all into a preallocated output (no
    // strategy, no allocation), 2.. the strategies (allocate their output, as models use them).
    const int num_methods = 2 + static_cast<int>(strategies.size());
    at::Tensor comm_out = at::empty_like(input);  // [W * rows, hidden]
    std::vector<std::vector<double>> times(num_methods);
    for (auto& s : strategies) s->reset_traffic();
    for (int it = 0; it < args.warmup + args.iters; ++it) {
      for (int m = 0; m < num_methods; ++m) {
        MPI_Barrier(raw_comm);
        const auto t0 = Clock::now();
        if (m == 0) {
          MPI_Alltoallv(input.data_ptr(), counts.data(), displs.data(), MPI_BYTE,
                        raw_out.data_ptr(), counts.data(), displs.data(), MPI_BYTE, raw_comm);
        } else if (m == 1) {
          world->all_to_all(comm_out, input, layout.recv_counts(), layout.send_counts())->wait();
        } else {
          strategies[m - 2]->exchange(input, layout);
        }
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        if (it >= args.warmup) times[m].push_back(us);
      }
    }
    std::vector<Result> row_results;
    for (int m = 0; m < num_methods; ++m) {
      Result r;
      r.method = m == 0   ? "mpi_alltoallv"
                 : m == 1 ? "comm_prealloc"
                          : std::string(strategies[m - 2]->name());
      r.bytes_per_peer = peer_bytes;
      double local = median(times[m]);
      MPI_Allreduce(&local, &r.latency_us, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      r.algbw_gbps = static_cast<double>(peer_bytes) * W / (r.latency_us * 1e3);
      comm::TrafficCounters per_exchange =
          m < 2 ? strategies[0]->traffic() : strategies[m - 2]->traffic();
      const int64_t n = std::max<int64_t>(1, per_exchange.exchanges);
      per_exchange.intra_node_messages /= n;
      per_exchange.intra_node_bytes /= n;
      per_exchange.inter_node_messages /= n;
      per_exchange.inter_node_bytes /= n;
      per_exchange.exchanges = 1;
      r.traffic = sum_over_world(per_exchange);
      row_results.push_back(r);
    }
    for (Result& r : row_results) {
      r.ratio_to_raw = r.latency_us / row_results[0].latency_us;
      results.push_back(r);
    }
  }
  if (me == 0) {
    std::printf("%-10s %-14s %12s %10s %9s %10s %12s %10s %12s\n", "bytes/peer", "method",
                "latency_us", "algbw_GB/s", "vs_raw", "intra_msgs", "intra_bytes", "inter_msgs",
                "inter_bytes");
    for (const Result& r : results) {
      std::printf("%-10s %-14s %12.1f %10.3f %9.2f %10lld %12lld %10lld %12lld\n",
                  human_bytes(r.bytes_per_peer).c_str(), r.method.c_str(), r.latency_us,
                  r.algbw_gbps, r.ratio_to_raw,
                  static_cast<long long>(r.traffic.intra_node_messages),
                  static_cast<long long>(r.traffic.intra_node_bytes),
                  static_cast<long long>(r.traffic.inter_node_messages),
                  static_cast<long long>(r.traffic.inter_node_bytes));
    }
    std::printf(
        "vs_raw = latency / MPI_Alltoallv latency of the same size in this run; traffic is "
        "per exchange, summed over all ranks\n");
    if (!args.json.empty()) {
      nlohmann::json j;
      j["ranks"] = W;
      j["topology"] = topo.to_string();
      j["iterations"] = args.iters;
      for (const Result& r : results) {
        j["results"].push_back({{"method", r.method},
                                {"bytes_per_peer", r.bytes_per_peer},
                                {"latency_us", r.latency_us},
                                {"algbw_gbps", r.algbw_gbps},
                                {"ratio_to_raw", r.ratio_to_raw},
                                {"intra_node_messages", r.traffic.intra_node_messages},
                                {"intra_node_bytes", r.traffic.intra_node_bytes},
                                {"inter_node_messages", r.traffic.inter_node_messages},
                                {"inter_node_bytes", r.traffic.inter_node_bytes}});
      }
      std::ofstream(args.json) << j.dump(2) << "\n";
    }
  }
  return kExitOk;
}

int run_bench(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    std::cout << "usage: switchyard bench a2a|moe-layer|allreduce|data-prepare [options]   "
                 "(--help on each)\n";
    if (args.size() < 2) {
      throw UsageError{"bench",
                       "missing benchmark name (a2a, moe-layer, allreduce or data-prepare)"};
    }
    return kExitOk;
  }
  if (args[1] == "moe-layer") return run_bench_moe_layer(args);  // launch/bench_moe_command.cc
  if (args[1] == "allreduce") return run_bench_allreduce(args);  // bench_allreduce_command.cc
  if (args[1] == "data-prepare") return run_bench_data_prepare(args);  // bench_data_command.cc
  if (args[1] != "a2a") throw UsageError{"bench", "unknown benchmark '" + args[1] + "'"};
  BenchArgs parsed;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&parsed.help), "show this help")(
      "ranks-per-node", po::value(&parsed.ranks_per_node)->default_value(0),
      "emulate nodes of G consecutive ranks (0 = detect)")(
      "min-bytes", po::value(&parsed.min_bytes)->default_value(1024), "smallest bytes per peer")(
      "max-bytes", po::value(&parsed.max_bytes)->default_value(4 << 20), "largest bytes per peer")(
      "iters", po::value(&parsed.iters)->default_value(20), "timed iterations per size")(
      "warmup", po::value(&parsed.warmup)->default_value(3), "untimed iterations per size")(
      "json", po::value(&parsed.json), "also write the results to this JSON file");
  if (!parse_bench_args(
          args, options, parsed.help, "mpirun -np N switchyard bench a2a [options]",
          "Times raw MPI_Alltoallv and the flat, hierarchical and leader all-to-all.")) {
    return kExitOk;
  }
  if (parsed.min_bytes < 4 || parsed.max_bytes < parsed.min_bytes || parsed.iters < 1 ||
      parsed.warmup < 0) {
    throw UsageError{"bench a2a", "need 4 <= min-bytes <= max-bytes, iters >= 1, warmup >= 0"};
  }
  return run_a2a(parsed);
}

}  // namespace

Command bench_command() {
  return {"bench",
          "benchmarks: a2a (all-to-all sweep), moe-layer (MoE vs dense GEMMs), allreduce "
          "(gradient all-reduce) under mpirun; data-prepare (vs Python SentencePiece)",
          run_bench};
}

}  // namespace switchyard::launch
