// examples/custom_router: a user's own training program that adds a router to Switchyard
// without editing the library. It registers "cosine" (cosine_router.h) in a RouterRegistry next
// to the built-in routers, builds the experiment from a normal config file with that registry,
// and trains. Run it like `switchyard train` (one process, or every rank under mpirun/srun):
//   build/examples/custom_router/custom_router examples/custom_router/cosine.pbtxt
//       [--set path=value ...]
#include <mpi.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "comm/make_communicator.h"
#include "comm/process_groups.h"
#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "core/threads.h"
#include "examples/custom_router/cosine_router.h"
#include "train/experiment.h"

namespace {

namespace sy = switchyard;

int train(int argc, char** argv, int rank, int world_size) {
  if (argc < 2) {
    if (rank == 0) std::cerr << "usage: custom_router CONFIG [--set path=value ...]\n";
    return 2;
  }
  std::vector<std::string> sets;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--set") sets.emplace_back(argv[i + 1]);
  }
  const sy::config::ExperimentConfig cfg = sy::config::load_config(argv[1], sets);
  sy::config::ValidationContext context;
  context.world_size = world_size;
  sy::config::validate_config(cfg, context);

  // The library's routers plus ours. The factory sees every RouterOptions field the config
  // resolved (hidden size, experts, top_k, jitter, init seed...); the extra knobs are ours.
  sy::train::ExperimentExtensions extensions;
  auto routers = std::make_shared<std::vector<std::shared_ptr<example::CosineRouter>>>();
  extensions.routers.add("cosine", [routers](const sy::models::RouterOptions& o) {
    auto router = std::make_shared<example::CosineRouter>(o, /*routing_dim=*/16,
                                                          /*temperature=*/0.07);
    routers->push_back(router);
    return router;
  });
  extensions.router_kind = "cosine";  // every MoE layer routes with it

  // A CPU example: the MPI backend (comm.backend AUTO resolves to it for CPU tensors).
  const sy::comm::WorldCommunicators worlds = sy::comm::make_world_communicators(
      cfg.comm(), /*tensors_on_cuda=*/false, sy::comm::TimeoutAction::kAbort);
  const sy::comm::Topology topology =
      sy::comm::detect_topology(MPI_COMM_WORLD, sy::comm::topology_options(cfg.comm()));
  sy::set_compute_threads(std::max(1, cfg.parallel().threads_per_rank()), 1);
  const sy::comm::ProcessGroups groups = sy::comm::build_process_groups(
      worlds.world, topology, cfg.parallel().expert_parallel_size(), worlds.host_world);
  sy::train::Experiment experiment = sy::train::build_experiment(cfg, groups, extensions);
  sy::train::Trainer trainer(sy::train::trainer_options(cfg), experiment.model, experiment.params,
                             groups, sy::train::load_corpus(sy::train::corpus_options(cfg)),
                             experiment.moe);
  const sy::train::TrainResult result = trainer.run();

  int64_t calls = 0;
  for (const auto& r : *routers) calls += r->calls();
  if (rank == 0) {
    std::cout << "custom router 'cosine': " << routers->size() << " MoE layer(s), " << calls
              << " route() calls on rank 0\n";
    if (!result.train_losses.empty()) {
      std::cout << "train loss " << result.train_losses.front() << " (first step) -> "
                << result.train_losses.back() << " (last step); val loss " << result.final_val_loss
                << std::endl;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 1;
  try {
    rc = train(argc, argv, rank, size);
  } catch (const std::exception& e) {
    std::cerr << "custom_router: rank " << rank << ": " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return rc;
}
