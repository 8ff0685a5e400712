#include "launch/run_env.h"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

namespace switchyard::launch {
namespace {

using Lookup = std::function<const char*(const char*)>;

// The variable's non-negative integer value, or -1 when unset or not a number.
int env_int(const Lookup& lookup, const char* name) {
  const char* value = lookup(name);
  if (value == nullptr || *value == '\0') return -1;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed < 0) return -1;
  return static_cast<int>(parsed);
}

int first_of(const Lookup& lookup, std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names) {
    const int v = env_int(lookup, name);
    if (v >= 0) return v;
  }
  return fallback;
}

std::string env_string(const Lookup& lookup, const char* name) {
  const char* value = lookup(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

std::vector<int> expand_slurm_counts(const std::string& list) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(pos, end - pos);
    char* rest = nullptr;
    const long count = std::strtol(item.c_str(), &rest, 10);
    if (rest == item.c_str() || count < 0) return {};
    long repeat = 1;
    if (*rest == '(') {  // "N(xM)"
      if (rest[1] != 'x') return {};
      char* close = nullptr;
      repeat = std::strtol(rest + 2, &close, 10);
      if (close == rest + 2 || *close != ')' || close[1] != '\0' || repeat < 1) return {};
    } else if (*rest != '\0') {
      return {};
    }
    out.insert(out.end(), static_cast<size_t>(repeat), static_cast<int>(count));
    pos = end + 1;
  }
  return out;
}

RunEnv parse_run_env(const Lookup& lookup) {
  RunEnv env;
  env.slurm_job_id = env_string(lookup, "SLURM_JOB_ID");
  env.slurm_restart_count = std::max(0, env_int(lookup, "SLURM_RESTART_COUNT"));
  if (env_int(lookup, "OMPI_COMM_WORLD_SIZE") > 0) {
    env.launcher = "openmpi";
    env.world_size = env_int(lookup, "OMPI_COMM_WORLD_SIZE");
    env.world_rank = first_of(lookup, {"OMPI_COMM_WORLD_RANK"}, 0);
    env.local_rank = first_of(lookup, {"OMPI_COMM_WORLD_LOCAL_RANK"}, 0);
    env.local_size = first_of(lookup, {"OMPI_COMM_WORLD_LOCAL_SIZE"}, 0);
    env.num_nodes = first_of(lookup, {"OMPI_MCA_orte_num_nodes"}, 0);
    return env;
  }
  // A task of a Slurm job step (srun). The batch shell itself has SLURM_PROCID but no step id
  // of a task launch, so it is not taken for rank 0 of SLURM_NTASKS.
  if (env_int(lookup, "SLURM_STEP_ID") >= 0 && env_int(lookup, "SLURM_PROCID") >= 0 &&
      env_int(lookup, "SLURM_NTASKS") > 0) {
    env.launcher = "slurm";
    env.world_size = env_int(lookup, "SLURM_NTASKS");
    env.world_rank = env_int(lookup, "SLURM_PROCID");
    env.local_rank = first_of(lookup, {"SLURM_LOCALID"}, 0);
    env.node_rank = first_of(lookup, {"SLURM_NODEID"}, -1);
    env.num_nodes = first_of(lookup, {"SLURM_STEP_NUM_NODES", "SLURM_NNODES"}, 0);
    const std::vector<int> per_node =
        expand_slurm_counts(env_string(lookup, "SLURM_STEP_TASKS_PER_NODE"));
    if (env.node_rank >= 0 && env.node_rank < static_cast<int>(per_node.size()))
      env.local_size = per_node[static_cast<size_t>(env.node_rank)];
    return env;
  }
  if (env_int(lookup, "PMIX_RANK") >= 0) {
    env.launcher = "pmix";
    env.world_rank = env_int(lookup, "PMIX_RANK");
    env.world_size = first_of(lookup, {"PMIX_SIZE"}, 0);
    return env;
  }
  return env;
}

RunEnv read_run_env() {
  return parse_run_env([](const char* name) { return std::getenv(name); });
}

}  // namespace switchyard::launch
