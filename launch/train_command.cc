// `switchyard train FILE [--set path=value ...]`: one rank of a training job (run it under mpirun
// or srun for several ranks). Every rank loads and validates the same config; rank 0 reports.
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "comm/make_communicator.h"
#include "comm/process_groups.h"
#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "core/errors.h"
#include "core/threads.h"
#include "launch/cli.h"
#include "launch/config_args.h"
#include "launch/gpu_device.h"
#include "launch/mpi_session.h"
#include "launch/run_env.h"
#include "launch/startup_watchdog.h"
#include "train/experiment.h"

namespace switchyard::launch {
namespace {

// Set by SIGUSR1 / SIGTERM (what Slurm sends before a time limit or on scancel --signal): the
// trainer finishes its step, checkpoints and returns. The one mutable global, in launch/.
std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) { g_stop_requested.store(true); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void setup_logging(int rank, config::LoggingConfig::Level level) {
  spdlog::set_pattern("[%H:%M:%S] [rank " + std::to_string(rank) + "] %v");
  spdlog::set_level(level == config::LoggingConfig::DEBUG     ? spdlog::level::debug
                    : level == config::LoggingConfig::WARNING ? spdlog::level::warn
                                                              : spdlog::level::info);
}

void write_resolved_config(const config::ExperimentConfig& c) {
  const std::string dir = c.logging().run_dir();
  std::filesystem::create_directories(dir);
  const std::string tmp = dir + "/config.pbtxt.tmp";
  std::ofstream(tmp) << config::resolved_config_text(c);
  std::filesystem::rename(tmp, dir + "/config.pbtxt");
}

// <run_dir>/tokenizer.json: the tokenizer the run trains with (the model file and its SHA-256,
// which checkpoints record too) and the data it reads.
void write_tokenizer_record(const config::ExperimentConfig& c,
                            const train::data::Tokenizer& tokenizer,
                            const train::BatchSource& data) {
  const nlohmann::json record = {
      {"tokenizer", c.data().tokenizer() == config::DataConfig::BYTE ? "byte" : "sentencepiece"},
      {"model", c.data().tokenizer_model()},
      {"digest", tokenizer.digest()},
      {"vocab_size", tokenizer.vocab_size()},
      {"data", data.description()}};
  const std::string dir = c.logging().run_dir();
  const std::string tmp = dir + "/tokenizer.json.tmp";
  std::ofstream(tmp) << record.dump(2) << "\n";
  std::filesystem::rename(tmp, dir + "/tokenizer.json");
}

// This rank's index among the ranks sharing its host, and their number (MPI's shared-memory
// split: right under any launcher, whatever topology is emulated).
struct HostPlace {
  int local_rank = 0;
  int local_size = 1;
  std::string host;
};

HostPlace place_on_this_host() {
  MPI_Comm comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &comm);
  HostPlace place;
  MPI_Comm_rank(comm, &place.local_rank);
  MPI_Comm_size(comm, &place.local_size);
  MPI_Comm_free(&comm);
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  place.host.assign(name, static_cast<size_t>(length));
  return place;
}

int run_train(const std::vector<std::string>& args) {
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const ConfigArgs parsed = parse_config_args(
      rest, "train",
      "Trains the experiment in FILE. Under mpirun or srun every rank runs this command.\n"
      "SIGUSR1 or SIGTERM: finish the step, checkpoint, exit 75 (resume by running again).");
  if (parsed.help) return kExitOk;
  // First thing: a preemption signal during start-up must be remembered, not kill the rank.
  install_stop_handlers();
  config::ExperimentConfig cfg = config::load_config(parsed.file, parsed.sets);
  // Every collective before the first step is bounded by comm.timeout_ms (validated below; a
  // non-positive value falls back to the schema's default until then).
  const int64_t startup_ms = cfg.comm().timeout_ms() > 0 ? cfg.comm().timeout_ms() : 120000;
  StartupWatchdog watchdog(read_run_env().world_rank, std::chrono::milliseconds(startup_ms));
  watchdog.phase("MPI_Init (every rank of the job must arrive)");

  MpiSession mpi;
  const int rank = mpi.world_rank();
  config::ValidationContext context;
  context.world_size = mpi.world_size();
#ifdef SWITCHYARD_WITH_NCCL
  context.nccl_available = true;
#endif
  const auto issues = config::find_config_issues(cfg, context);
  if (!issues.empty()) {
    if (rank == 0) {
      for (const auto& i : issues)
        std::cerr << "switchyard: error: " << i.path << ": " << i.reason << "\n";
    }
    return kExitUsage;
  }
  setup_logging(rank, cfg.logging().level());
  const RunEnv run_env = read_run_env();
  // A process started without a launcher is an MPI singleton: its PMIx server sets PMIX_RANK
  // but no size, and there is no launcher to report.
  if (rank == 0 && !run_env.launcher.empty() && run_env.world_size > 0) {
    spdlog::info("launcher {}: {} rank(s), {} node(s){}", run_env.launcher, run_env.world_size,
                 run_env.num_nodes > 0 ? std::to_string(run_env.num_nodes) : "?",
                 run_env.slurm_job_id.empty()
                     ? std::string()
                     : ", slurm job " + run_env.slurm_job_id + " restart " +
                           std::to_string(run_env.slurm_restart_count));
  }
  try {
    watchdog.phase("host placement (MPI_Comm_split_type)");
    const HostPlace place = place_on_this_host();
    // Chosen (and made current) before NCCL binds to the current device.
    const DeviceChoice device =
        select_device(cfg.parallel().device(), place.local_rank, place.local_size);
    spdlog::info("device: {}", device.description);
    watchdog.phase("world communicators (MPI_Comm_dup, ncclCommInitRank)");
    const comm::WorldCommunicators worlds = comm::make_world_communicators(
        cfg.comm(), device.device.is_cuda(), comm::TimeoutAction::kAbort);
    if (rank == 0) {
      spdlog::info("comm backend: {} ({}); device tensors: {}",
                   comm::backend_name(worlds.choice.backend), worlds.choice.reason,
                   comm::transport_name(worlds.choice.transport));
    }
    watchdog.phase("topology detection");
    const comm::Topology topology =
        comm::detect_topology(MPI_COMM_WORLD, comm::topology_options(cfg.comm()));
    // Threads: the ranks really sharing this host's cores, whatever topology is emulated.
    const int threads = cfg.parallel().threads_per_rank() > 0
                            ? cfg.parallel().threads_per_rank()
                            : default_threads_per_rank(online_cores(), place.local_size);
    set_compute_threads(threads, cfg.parallel().intra_op_threads());
    watchdog.phase("process group splits");
    const comm::ProcessGroups groups = comm::build_process_groups(
        worlds.world, topology, cfg.parallel().expert_parallel_size(), worlds.host_world);
    watchdog.phase("GPU placement check");
    check_distinct_gpus(*groups.host_world, device, place.host);
    // Before anything is written: a bad tokenizer or data file ends the run with one line.
    watchdog.phase("tokenizer and data load");
    const std::unique_ptr<train::data::Tokenizer> tokenizer = train::load_tokenizer(cfg);
    const std::shared_ptr<const train::BatchSource> data =
        train::load_training_data(cfg, *tokenizer, groups.world->rank(), groups.world->size());
    if (rank == 0) {
      write_resolved_config(cfg);
      write_tokenizer_record(cfg, *tokenizer, *data);
      spdlog::info(
          "{} ranks ({} nodes x {}), expert-parallel size {}, {} BLAS / {} intra-op thread(s) per "
          "rank, precision {}, kernels {}",
          mpi.world_size(), topology.num_nodes, topology.local_size, groups.expert_parallel_size,
          threads, cfg.parallel().intra_op_threads(),
          config::TrainConfig::Precision_Name(cfg.train().precision()),
          config::ModelConfig::Kernels_Name(cfg.model().kernels()));
    }
    if (rank == 0) {
      spdlog::info("data: {}; tokenizer {}", data->description(), tokenizer->description());
    }
    watchdog.phase("model build (weight broadcast)");
    train::Experiment experiment = train::build_experiment(cfg, groups);
    train::TrainerOptions trainer_options = train::trainer_options(cfg);
    trainer_options.device = device.device;
    trainer_options.tokenizer_digest = tokenizer->digest();
    trainer_options.tokenizer_model = cfg.data().tokenizer_model();
    watchdog.phase("checkpoint load agreement and the first step");
    train::TrainerCallbacks callbacks;
    callbacks.before_step = [&watchdog](int64_t) { watchdog.disarm(); };
    train::Trainer trainer(trainer_options, experiment.model, experiment.params, groups, data,
                           experiment.moe, callbacks);
    const train::TrainResult result = trainer.run(&g_stop_requested);
    watchdog.disarm();  // also when a resumed run had no step left
    if (result.stopped_early) {
      if (rank == 0)
        spdlog::warn("stopped at step {} after checkpointing; run again to resume",
                     result.steps_completed);
      return 75;
    }
    // Every rank generates in lockstep (an expert-parallel forward is collective); rank 0 prints.
    const std::string prompt = cfg.generate().prompt();
    const std::vector<int64_t> prompt_ids = tokenizer->encode(prompt);
    const auto sample =
        models::generate(experiment.model, prompt_ids, train::sampling_options(cfg),
                         at::make_generator<at::CPUGeneratorImpl>(cfg.train().seed()));
    if (rank == 0) {
      std::cout << "val loss " << result.final_val_loss << " (perplexity "
                << std::exp(result.final_val_loss) << ")\n"
                << "--- sample ---\n"
                << tokenizer->decode(sample) << "\n--------------" << std::endl;
    }
    return kExitOk;
  } catch (const ConfigError& e) {
    mpi.abort(std::string("error: ") + e.what(), kExitUsage);
  } catch (const std::exception& e) {
    mpi.abort(std::string("fatal: ") + e.what(), kExitFailure);
  }
}

}  // namespace

Command train_command() {
  return {"train", "train an experiment (under mpirun for several ranks)", run_train};
}

}  // namespace switchyard::launch
