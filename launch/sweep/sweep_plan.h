// File: launch/sweep/sweep_plan.h
//
// A sweep made concrete: its directory, and for every member its run directory, resolved config
// and world size. Planning reads and checks everything (the sweep file, the base experiment,
// every member's overrides and config for its world size) and writes nothing, so a bad sweep
// fails in a second with one line naming the sweep file, before any member runs.
//
// On disk (materialize_member):
//   <sweep dir>/<member>/config.pbtxt   the member's resolved config (what `train` is given)
//   <sweep dir>/<member>/member.json    name, group, seed, axis points, overrides, world size
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/experiment.pb.h"
#include "core/config/sweep_expansion.h"
#include "core/config/sweep_loader.h"

namespace switchyard::launch {

struct PlannedMember {
  config::SweepMember member;
  std::string dir;                  // <sweep dir>/<member name>
  config::ExperimentConfig config;  // resolved: overrides applied, run dir set
  int world_size = 1;
};

struct SweepPlan {
  config::LoadedSweep loaded;
  std::string dir;  // the sweep's directory
  std::vector<PlannedMember> members;
};

// Loads `sweep_path` and plans every member. `out_dir` (non-empty) replaces
// <output_root>/<name> as the sweep's directory. `check_files`: validate that data files exist.
SweepPlan plan_sweep(const std::string& sweep_path, const std::string& out_dir, bool check_files);

// member.json of a member.
nlohmann::json member_json(const PlannedMember& m, const SweepPlan& plan);

// Creates the member's directory and writes config.pbtxt and member.json (each atomically).
void materialize_member(const PlannedMember& m, const SweepPlan& plan);

}  // namespace switchyard::launch
