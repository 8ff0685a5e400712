#include "launch/run_env.h"

#include <cstdlib>
#include <string>

namespace switchyard::launch {
namespace {

// The variable's integer value, or -1 when unset or not a number.
int env_int(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return -1;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed < 0) return -1;
  return static_cast<int>(parsed);
}

int first_of(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names) {
    const int v = env_int(name);
    if (v >= 0) return v;
  }
  return fallback;
}

}  // namespace

RunEnv read_run_env() {
  RunEnv env;
  env.world_size = first_of({"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}, 0);
  env.world_rank = first_of({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"}, 0);
  env.local_rank = first_of({"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}, 0);
  env.local_size = first_of({"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"}, 0);
  return env;
}

}  // namespace switchyard::launch
