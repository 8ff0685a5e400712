// File: launch/report/run_discovery.h
//
// The runs a report covers and how they group. An argument is a run directory (it holds
// metrics.jsonl) or a sweep directory (its sub-directories are runs). Runs that differ only by
// seed form one group:
//   * a sweep member (member.json, written by `switchyard sweep`): its sweep and group;
//   * any other run: its config.pbtxt with train.seed, logging.run_dir and checkpoint.dir
//     cleared, so two runs group exactly when nothing else differs; a run without a readable
//     config is a group of its own. The label is the directory name without a ".seed<N>" tail.
// A sweep member without a DONE marker (failed, killed, not run) is left out with a note.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::launch {

struct RunRef {
  std::string dir;
  std::string group_key;
  std::string group_label;
  std::optional<uint64_t> seed;
};

// Throws ConfigError for an argument that is neither a run nor a sweep directory. Notes about
// runs left out are appended to `notes`.
std::vector<RunRef> discover_runs(const std::vector<std::string>& dirs,
                                  std::vector<std::string>* notes);

}  // namespace switchyard::launch
