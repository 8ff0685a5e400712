// `switchyard bench moe-layer [--tokens T] [--hidden d] [--ffn F] [--experts E] [--top-k k]
//                            [--capacity-factors 0,1.25] [--iters N] [--warmup N]
//                            [--threads N] [--intra-op-threads N] [--ranks-per-node G]
//                            [--hierarchical [--dedup]] [--overlap-chunks 1,4] [--json FILE]`
//
// Forward + backward of one MoE layer (top-k softmax router, GELU experts, batched compute,
// load-balancing loss) on T tokens per rank, for each capacity factor (0 = dropless), against the
// dense-equivalent work measured in the same run: the two GEMM chains of the experts on T * k rows
// ([T k, d] x [d, F] -> GELU -> [F, d], forward + backward). Ratio = MoE time / dense time.
// Single process: local dispatcher. Under mpirun with W > 1 ranks: expert parallelism over all
// ranks (E / W experts per rank, flat or hierarchical all-to-all, the latter optionally with node
// deduplication, docs/dedup.md); times are max over ranks.
// Iterations interleave MoE and dense runs; the median is reported.
#include "launch/bench_moe_command.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "core/threads.h"
#include "launch/bench_common.h"
#include "launch/cli.h"
#include "launch/mpi_session.h"
#include "models/moe/moe_builder.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct MoeBenchArgs {
  int64_t tokens = 4096;
  int64_t hidden = 256;
  int64_t ffn = 1024;
  int64_t experts = 8;
  int64_t top_k = 2;
  std::string capacity_factors = "0,1.25";
  int iters = 10;
  int warmup = 3;
  int threads = 0;
  int intra_op_threads = 1;
  int ranks_per_node = 0;
  bool hierarchical = false;
  bool dedup = false;
  std::string overlap_chunks = "1";
  std::string json;
  bool help = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Max over ranks (every rank calls it).
double max_over(comm::Communicator& world, double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);
  world.all_reduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<double>();
}

std::vector<double> parse_factors(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stod(item));
  return out;
}

int run(const MoeBenchArgs& a) {
  MpiSession session(MpiSession::ThreadLevel::kSerialized);
  int exit_code = kExitOk;
  {
    auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
    const int size = world->size();
    const int rank = world->rank();
    const comm::Topology topology =
        comm::detect_topology(MPI_COMM_WORLD, comm::TopologyOptions{a.ranks_per_node});
    const int threads =
        a.threads > 0 ? a.threads : default_threads_per_rank(online_cores(), topology.local_size);
    set_compute_threads(threads);
    // LibTorch's pool only (the BLAS pool keeps `threads`): the many small element-wise ops of
    // the MoE path spin LibTorch's OpenMP threads against OpenBLAS's on a small machine.
    if (a.intra_op_threads > 0) at::set_num_threads(a.intra_op_threads);
    if (a.experts % size != 0) {
      throw UsageError{"bench moe-layer", "--experts must be a multiple of the number of ranks"};
    }
    models::MoEParallel parallel;
    comm::ProcessGroups groups;
    if (size > 1) {
      groups = comm::build_process_groups(world, topology, size);
      parallel.expert_group = groups.expert;
      parallel.host_expert_group = groups.host_expert;
      parallel.all_to_all = comm::make_all_to_all(
          a.hierarchical ? comm::AllToAllAlgorithm::kHierarchical : comm::AllToAllAlgorithm::kFlat,
          groups);
      parallel.host_batch_group = groups.host_world;
      if (a.hierarchical && a.dedup) {
        const comm::NodePhaseAllToAlls phases = comm::make_node_phase_all_to_alls(groups);
        if (phases.inter_node == nullptr) {
          throw UsageError{"bench moe-layer",
                           "--dedup needs >= 2 nodes of >= 2 ranks (see --ranks-per-node)"};
        }
        parallel.dedup_inter_node = phases.inter_node;
        parallel.dedup_intra_node = phases.intra_node;
      }
    }
    const int64_t rows = a.tokens * a.top_k;
    // The layer input requires grad, as inside a network (backward computes dX like the dense run).
    at::Tensor x = at::randn({a.tokens, a.hidden}).set_requires_grad(true);
    at::Tensor grad_out = at::randn({a.tokens, a.hidden});
    // Dense equivalent: [T k, d] x [d, F] -> GELU -> [F, d], forward + backward.
    at::Tensor xd = at::randn({rows, a.hidden}).set_requires_grad(true);
    at::Tensor w1 = (at::randn({a.hidden, a.ffn}) * 0.02).set_requires_grad(true);
    at::Tensor w2 = (at::randn({a.ffn, a.hidden}) * 0.02).set_requires_grad(true);
    at::Tensor gd = at::randn({rows, a.hidden});
    auto dense_step = [&] {
      at::Tensor y = at::gelu(xd.mm(w1)).mm(w2);
      y.backward(gd);
      xd.mutable_grad().reset();
      w1.mutable_grad().reset();
      w2.mutable_grad().reset();
    };

    nlohmann::json results = nlohmann::json::array();
    if (rank == 0) {
      std::printf(
          "switchyard bench moe-layer: %d rank(s), %d BLAS / %d intra-op thread(s) per rank, "
          "T=%lld/rank d=%lld "
          "F=%lld E=%lld k=%lld float32, %d iterations (median; max over ranks)\n",
          size, threads, at::get_num_threads(), static_cast<long long>(a.tokens),
          static_cast<long long>(a.hidden), static_cast<long long>(a.ffn),
          static_cast<long long>(a.experts), static_cast<long long>(a.top_k), a.iters);
      std::printf("%-14s %6s %12s %12s %12s %12s %14s %8s %9s\n", "mode", "chunks", "moe_ms",
                  "moe_fwd_ms", "dense_ms", "ratio", "tokens/s", "dropped", "a2a");
    }
    for (double cf : parse_factors(a.capacity_factors)) {
      for (double chunks_value : parse_factors(a.overlap_chunks)) {
        const int chunks = static_cast<int>(chunks_value);
        parallel.overlap_chunks = chunks;
        models::MoEBuildOptions o;
        o.router.hidden_size = a.hidden;
        o.router.num_experts = a.experts;
        o.router.top_k = a.top_k;
        o.router.init_std = 0.02;
        o.layer.hidden_size = a.hidden;
        o.layer.num_experts = a.experts;
        o.layer.capacity.capacity_factor = cf;
        o.layer.capacity.top_k = a.top_k;
        o.experts.hidden_size = a.hidden;
        o.experts.ffn_hidden_size = a.ffn;
        models::AuxLossCollector aux;
        models::MoELayer layer = models::build_moe_layer(o, parallel, &aux);
        double dropped = 0.0;
        double forward_s = 0.0;
        auto moe_step = [&](int64_t step) {
          aux.clear();
          models::MoEForwardArgs args;
          args.step = step;
          const auto f0 = Clock::now();
          models::MoEOutput out = layer->forward(x, args);
          forward_s = seconds_since(f0);
          ((out.output * grad_out).sum() + aux.weighted_sum()).backward();
          layer->zero_grad();
          x.mutable_grad().reset();
          dropped = out.stats.dropped_fraction;
        };
        std::vector<double> moe_times;
        std::vector<double> forward_times;
        std::vector<double> dense_times;
        for (int it = 0; it < a.warmup + a.iters; ++it) {
          world->barrier()->wait();
          auto t0 = Clock::now();
          moe_step(it);
          const double moe = max_over(*world, seconds_since(t0));
          const double forward = max_over(*world, forward_s);
          world->barrier()->wait();
          t0 = Clock::now();
          dense_step();
          const double dense = max_over(*world, seconds_since(t0));
          if (it >= a.warmup) {
            moe_times.push_back(moe);
            forward_times.push_back(forward);
            dense_times.push_back(dense);
          }
        }
        const double moe_s = median(moe_times);
        const double dense_s = median(dense_times);
        const double forward_med = median(forward_times);
        const double tokens_per_s = static_cast<double>(a.tokens * size) / moe_s;
        const std::string mode =
            cf > 0 ? "capacity " + std::to_string(cf).substr(0, 4) : "dropless";
        const std::string a2a = size == 1         ? "local"
                                : !a.hierarchical ? "flat"
                                : a.dedup         ? "hier+dedup"
                                                  : "hier";
        if (rank == 0) {
          std::printf("%-14s %6d %12.2f %12.2f %12.2f %12.3f %14.0f %8.3f %9s\n", mode.c_str(),
                      chunks, moe_s * 1e3, forward_med * 1e3, dense_s * 1e3, moe_s / dense_s,
                      tokens_per_s, dropped, a2a.c_str());
        }
        results.push_back({{"mode", mode},
                           {"capacity_factor", cf},
                           {"overlap_chunks", chunks},
                           {"moe_ms", moe_s * 1e3},
                           {"moe_forward_ms", forward_med * 1e3},
                           {"dense_ms", dense_s * 1e3},
                           {"ratio", moe_s / dense_s},
                           {"tokens_per_s", tokens_per_s},
                           {"dropped_fraction", dropped},
                           {"ranks", size},
                           {"threads_per_rank", threads},
                           {"intra_op_threads", at::get_num_threads()},
                           {"all_to_all", a2a}});
      }
    }
    if (rank == 0 && !a.json.empty()) std::ofstream(a.json) << results.dump(2) << "\n";
  }
  return exit_code;
}

}  // namespace

int run_bench_moe_layer(const std::vector<std::string>& args) {
  MoeBenchArgs parsed;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&parsed.help), "show this help")(
      "tokens", po::value(&parsed.tokens)->default_value(4096), "tokens per rank")(
      "hidden", po::value(&parsed.hidden)->default_value(256), "model width d")(
      "ffn", po::value(&parsed.ffn)->default_value(1024), "expert FFN width")(
      "experts", po::value(&parsed.experts)->default_value(8), "experts E (multiple of ranks)")(
      "top-k", po::value(&parsed.top_k)->default_value(2), "experts per token")(
      "capacity-factors", po::value(&parsed.capacity_factors)->default_value("0,1.25"),
      "comma-separated capacity factors; 0 = dropless")(
      "iters", po::value(&parsed.iters)->default_value(10), "timed iterations")(
      "warmup", po::value(&parsed.warmup)->default_value(3), "untimed iterations")(
      "threads", po::value(&parsed.threads)->default_value(0),
      "compute threads per rank (0 = cores / ranks on the node)")(
      "intra-op-threads", po::value(&parsed.intra_op_threads)->default_value(1),
      "LibTorch intra-op threads only (0 = --threads; default 1, see docs/benchmarks.md)")(
      "ranks-per-node", po::value(&parsed.ranks_per_node)->default_value(0),
      "emulate nodes of G consecutive ranks (0 = detect)")(
      "hierarchical", po::bool_switch(&parsed.hierarchical), "hierarchical all-to-all")(
      "dedup", po::bool_switch(&parsed.dedup),
      "with --hierarchical: node-deduplicated dispatch (docs/dedup.md)")(
      "overlap-chunks", po::value(&parsed.overlap_chunks)->default_value("1"),
      "comma-separated comm.overlap_chunks values to compare (1 = no overlap; docs/overlap.md)")(
      "json", po::value(&parsed.json), "also write the results to this JSON file");
  if (!parse_bench_args(
          args, options, parsed.help, "[mpirun -np N] switchyard bench moe-layer [options]",
          "Forward+backward of one MoE layer vs the dense GEMM chains of the same FLOPs.")) {
    return kExitOk;
  }
  for (double c : parse_factors(parsed.overlap_chunks)) {
    if (c < 1 || c > 64 || c != static_cast<int>(c)) {
      throw UsageError{"bench moe-layer", "--overlap-chunks: integers from 1 to 64"};
    }
  }
  if (parsed.dedup && !parsed.hierarchical) {
    throw UsageError{"bench moe-layer", "--dedup needs --hierarchical"};
  }
  if (parsed.tokens < 1 || parsed.iters < 1 || parsed.warmup < 0 || parsed.top_k < 1 ||
      parsed.top_k > parsed.experts) {
    throw UsageError{"bench moe-layer", "need tokens >= 1, iters >= 1, 1 <= top-k <= experts"};
  }
  return run(parsed);
}

}  // namespace switchyard::launch
