// `switchyard generate --checkpoint DIR --prompt TEXT`: samples text from a checkpoint in one
// process, whatever expert-parallel layout saved it (experts are stored by global id).
#include <mpi.h>

#include <iostream>

#include <ATen/CPUGeneratorImpl.h>
#include <boost/program_options.hpp>

#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "core/errors.h"
#include "launch/cli.h"
#include "launch/mpi_session.h"
#include "train/checkpoint_store.h"
#include "train/experiment.h"

namespace switchyard::launch {
namespace {

namespace po = boost::program_options;

int run_generate(const std::vector<std::string>& args) {
  std::string dir;
  std::string prompt;
  int64_t max_new_tokens = -1;
  double temperature = -1;
  int64_t top_k = -1;
  uint64_t seed = 0;
  bool help = false;
  po::options_description options("options");
  options.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "checkpoint", po::value(&dir), "checkpoint directory (…/checkpoints/step-NNNNNNNN)")(
      "prompt", po::value(&prompt), "text to continue (default: the run's generate.prompt)")(
      "max-new-tokens", po::value(&max_new_tokens), "tokens to generate (default: the run's)")(
      "temperature", po::value(&temperature), "sampling temperature; 0 = greedy")(
      "top-k", po::value(&top_k), "sample among the k most likely tokens; 0 = all")(
      "seed", po::value(&seed)->default_value(0), "sampling seed");
  po::variables_map vm;
  po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                .options(options)
                .run(),
            vm);
  po::notify(vm);
  if (help) {
    std::cout << "usage: switchyard generate --checkpoint DIR [--prompt TEXT] [options]\n\n"
              << "Samples text from a checkpoint, in one process.\n\n"
              << options;
    return kExitOk;
  }
  if (dir.empty()) throw UsageError{"generate", "missing --checkpoint DIR"};

  const train::CheckpointManifest manifest = train::CheckpointStore::verify(dir);
  config::ExperimentConfig cfg = manifest.config();
  cfg.mutable_parallel()->set_expert_parallel_size(1);
  cfg.mutable_parallel()->set_world_size(0);
  if (!prompt.empty()) cfg.mutable_generate()->set_prompt(prompt);
  if (max_new_tokens >= 0)
    cfg.mutable_generate()->set_max_new_tokens(static_cast<int32_t>(max_new_tokens));
  if (temperature >= 0) cfg.mutable_generate()->set_temperature(static_cast<float>(temperature));
  if (top_k >= 0) cfg.mutable_generate()->set_top_k(static_cast<int32_t>(top_k));
  if (cfg.generate().prompt().empty()) throw UsageError{"generate", "--prompt must not be empty"};

  MpiSession mpi;
  if (mpi.world_size() != 1)
    throw UsageError{"generate", "runs in one process; do not start it under mpirun -np > 1"};
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const comm::ProcessGroups groups =
      comm::build_process_groups(world, comm::make_emulated_topology(0, 1, 1), 1);
  train::Experiment e = train::build_experiment(cfg, groups);
  std::map<std::string, at::Tensor> stored;
  for (const train::CheckpointFile& f : manifest.files()) {
    for (auto& [name, t] : train::read_safetensors(dir + "/" + f.name()).tensors) stored[name] = t;
  }
  train::restore_from_checkpoint(stored, e.params);
  train::restore_buffers(stored, e.moe->persistent_buffers(),
                         /*required=*/manifest.format_version() >= 2);
  // The run's tokenizer, and the very model file it trained with.
  const std::unique_ptr<train::data::Tokenizer> tokenizer = train::load_tokenizer(cfg);
  if (manifest.has_tokenizer_digest() && manifest.tokenizer_digest() != tokenizer->digest()) {
    throw ConfigError("data.tokenizer_model",
                      "'" + cfg.data().tokenizer_model() + "' is not the tokenizer checkpoint '" +
                          dir + "' was trained with (sha256 " +
                          manifest.tokenizer_digest().substr(0, 12) + ", the file's is " +
                          tokenizer->digest().substr(0, 12) + ")");
  }
  const std::string& text = cfg.generate().prompt();
  const auto tokens =
      models::generate(e.model, tokenizer->encode(text), train::sampling_options(cfg),
                       at::make_generator<at::CPUGeneratorImpl>(seed));
  std::cout << tokenizer->decode(tokens) << std::endl;
  return kExitOk;
}

}  // namespace

Command generate_command() { return {"generate", "sample text from a checkpoint", run_generate}; }

}  // namespace switchyard::launch
