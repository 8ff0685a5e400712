// File: launch/sweep/sweep_manifest.h
//
// <sweep dir>/sweep.json: the sweep's name and files, and every member with its status, written
// atomically by `sweep run` (after every member) and `sweep slurm`. The markers in the members'
// directories (member_status.h) are the truth; the manifest is their summary for readers.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "launch/sweep/sweep_plan.h"

namespace switchyard::launch {

nlohmann::json sweep_manifest(const SweepPlan& plan);

void write_sweep_manifest(const SweepPlan& plan);

}  // namespace switchyard::launch
