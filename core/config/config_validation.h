// File: core/config/config_validation.h
//
// Every cross-field rule of an ExperimentConfig, checked in one place before anything is built.
// Each violation names the field path and the reason; the command-line tool prints one line per
// violation and exits with status 2.
#pragma once

#include <string>
#include <vector>

#include "core/config/experiment.pb.h"

namespace switchyard::config {

struct ValidationContext {
  // The world size the run has (from the launcher); 0 = unknown, then parallel.world_size is
  // used, and when that is 0 too the world-size rules are skipped.
  int world_size = 0;
  // Check that data files exist and are readable.
  bool check_files = true;
  // Whether this build has the NCCL backend.
  bool nccl_available = false;
};

struct ConfigIssue {
  std::string path;    // e.g. "model.moe.router.top_k"
  std::string reason;  // e.g. "must be <= model.moe.num_experts (8), got 9"
};

// All violations, in schema order; empty when the config is valid.
std::vector<ConfigIssue> find_config_issues(const ExperimentConfig& config,
                                            const ValidationContext& context);

// Valid but questionable combinations, one line each ("path: reason"); the run goes ahead. E.g.
// expert choice over whole routing groups in the causal LM (a token's routing sees later tokens).
std::vector<ConfigIssue> find_config_warnings(const ExperimentConfig& config);

// Throws ConfigError for the first violation.
void validate_config(const ExperimentConfig& config, const ValidationContext& context);

}  // namespace switchyard::config
