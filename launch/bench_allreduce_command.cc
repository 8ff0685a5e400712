// `switchyard bench allreduce [--min-bytes B] [--max-bytes B] [--iters N] [--warmup N]`
//
// SUM all-reduce of float32 buffers from min-bytes to max-bytes (x4 steps), as the gradient
// synchronizer issues it: the MPI backend's all_reduce (MPI_Iallreduce polled against the
// timeout) against blocking MPI_Allreduce of the same buffer in the same run (ratio = backend /
// blocking). Iterations interleave the two; the median over iterations of the max over ranks is
// reported. Open MPI picks the non-blocking algorithm from coll_libnbc_iallreduce_algorithm
// (launch/mpirun.sh sets the ring; run with OMPI_MCA_coll_libnbc_iallreduce_algorithm=0 for the
// library's own choice).
#include "launch/bench_allreduce_command.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <ATen/ATen.h>
#include <boost/program_options.hpp>

#include "comm/mpi/mpi_communicator.h"
#include "launch/bench_common.h"
#include "launch/cli.h"
#include "launch/mpi_session.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct AllReduceArgs {
  int64_t min_bytes = 64 << 10;
  int64_t max_bytes = 16 << 20;
  int iters = 30;
  int warmup = 3;
  bool help = false;
};

// Median over iterations of the slowest rank's time, microseconds.
double median_of_max(std::vector<double> times, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, times.data(), static_cast<int>(times.size()), MPI_DOUBLE, MPI_MAX,
                comm);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int run(const AllReduceArgs& args) {
  MpiSession session(MpiSession::ThreadLevel::kSerialized);
  auto world = bench_world_communicator();
  MPI_Comm raw = world->mpi_comm();
  if (world->rank() == 0) {
    std::printf(
        "switchyard bench allreduce: %d ranks, float32 SUM, %d iterations (median of max "
        "over ranks)\n%12s %14s %14s %8s\n",
        world->size(), args.iters, "bytes", "blocking_us", "backend_us", "ratio");
  }
  for (int64_t bytes = args.min_bytes; bytes <= args.max_bytes; bytes *= 4) {
    at::Tensor buffer = at::ones({bytes / 4}, at::kFloat);  // [bytes / 4]
    std::vector<double> blocking;
    std::vector<double> backend;
    for (int i = 0; i < args.warmup + args.iters; ++i) {
      MPI_Barrier(raw);
      Clock::time_point t0 = Clock::now();
      MPI_Allreduce(MPI_IN_PLACE, buffer.data_ptr<float>(), static_cast<int>(buffer.numel()),
                    MPI_FLOAT, MPI_SUM, raw);
      const double a = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      buffer.fill_(1.0f);
      MPI_Barrier(raw);
      t0 = Clock::now();
      world->all_reduce(buffer)->wait();
      const double b = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      buffer.fill_(1.0f);
      if (i >= args.warmup) {
        blocking.push_back(a);
        backend.push_back(b);
      }
    }
    const double a = median_of_max(blocking, raw);
    const double b = median_of_max(backend, raw);
    if (world->rank() == 0)
      std::printf("%12lld %14.1f %14.1f %8.2f\n", static_cast<long long>(bytes), a, b, b / a);
  }
  return kExitOk;
}

}  // namespace

int run_bench_allreduce(const std::vector<std::string>& args) {
  AllReduceArgs parsed;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&parsed.help), "show this help")(
      "min-bytes", po::value(&parsed.min_bytes)->default_value(64 << 10), "smallest buffer")(
      "max-bytes", po::value(&parsed.max_bytes)->default_value(16 << 20), "largest buffer")(
      "iters", po::value(&parsed.iters)->default_value(30), "timed iterations per size")(
      "warmup", po::value(&parsed.warmup)->default_value(3), "untimed iterations per size");
  if (!parse_bench_args(
          args, options, parsed.help, "mpirun -np N switchyard bench allreduce [options]",
          "Times the backend's non-blocking all-reduce against blocking MPI_Allreduce.")) {
    return kExitOk;
  }
  if (parsed.min_bytes < 4 || parsed.max_bytes < parsed.min_bytes || parsed.iters < 1 ||
      parsed.warmup < 0) {
    throw UsageError{"bench allreduce",
                     "need 4 <= min-bytes <= max-bytes, iters >= 1, warmup >= 0"};
  }
  return run(parsed);
}

}  // namespace switchyard::launch
