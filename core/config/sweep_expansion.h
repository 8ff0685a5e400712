// File: core/config/sweep_expansion.h
//
// A sweep's members: the combinations of its axes (CROSSED: every combination, the first axis
// varying slowest; ZIPPED: the i-th points together), each once per seed, seeds innermost. A
// member has a deterministic name made of its points' labels and its seed,
// "<label>_<label>.seed<N>" ("base.seed<N>" without axes); members that differ only by seed
// share a group, the name without ".seed<N>".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config/experiment.pb.h"
#include "core/config/sweep.pb.h"

namespace switchyard::config {

struct SweepMember {
  size_t index = 0;   // position in the expansion (the Slurm array task id)
  std::string name;   // "<group>.seed<N>": the member's directory name
  std::string group;  // the labels joined by '_', "base" without axes
  uint64_t seed = 0;
  // (axis name, point label), one per axis.
  std::vector<std::pair<std::string, std::string>> points;
  // Every override of the member in order: the sweep's `set`, the points', then train.seed.
  std::vector<std::string> overrides;
};

// Expands `sweep`; `default_seed` (the base's train.seed) is used when it lists no seeds.
// `source` names the sweep file in errors (two points with the same label on one axis).
std::vector<SweepMember> expand_sweep(const SweepConfig& sweep,
                                      uint64_t default_seed,
                                      const std::string& source);

// The axis' name as reports show it: `name`, else `field`, else "axis<i>".
std::string axis_display_name(const SweepAxis& axis, size_t i);

// `base` with the member's overrides applied, and the run and checkpoint directories set to
// `run_dir` and `run_dir`/checkpoints. An override that does not apply is a ConfigError naming
// `source`, the member and the override.
ExperimentConfig member_config(const ExperimentConfig& base,
                               const SweepMember& member,
                               const std::string& run_dir,
                               const std::string& source);

// The member's MPI ranks: the sweep's world_size when positive, else the config's
// parallel.world_size when positive, else 1.
int member_world_size(const SweepConfig& sweep, const ExperimentConfig& member);

}  // namespace switchyard::config
