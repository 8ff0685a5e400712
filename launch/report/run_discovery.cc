#include "launch/report/run_discovery.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/config/config_loader.h"
#include "core/errors.h"
#include "core/input_file.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string strip_seed(const std::string& name) {
  const auto at = name.rfind(".seed");
  if (at == std::string::npos || at + 5 >= name.size()) return name;
  for (size_t i = at + 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return name;
  }
  return name.substr(0, at);
}

RunRef describe_run(const fs::path& dir) {
  RunRef r;
  r.dir = dir.string();
  const std::string name = dir.filename().string();
  r.group_label = strip_seed(name);
  r.group_key = "dir:" + r.dir;
  const fs::path member = dir / "member.json";
  if (is_file(member)) {
    const nlohmann::json j = nlohmann::json::parse(
        read_input_file({member.string(), "member file", kMaxConfigBytes, ""}), nullptr, false);
    if (j.is_object() && j.contains("group") && j["group"].is_string()) {
      const std::string sweep = j.value("sweep", std::string());
      r.group_label = j["group"].get<std::string>();
      r.group_key = "sweep:" + sweep + "/" + r.group_label;
      if (j.contains("seed") && j["seed"].is_number_unsigned()) r.seed = j["seed"].get<uint64_t>();
      return r;
    }
  }
  const fs::path config = dir / "config.pbtxt";
  if (is_file(config)) {
    try {
      config::ExperimentConfig c = config::load_config_file(config.string());
      r.seed = c.train().seed();
      c.mutable_train()->clear_seed();
      c.mutable_logging()->clear_run_dir();
      c.mutable_checkpoint()->clear_dir();
      r.group_key = "config:" + c.SerializeAsString();
    } catch (const ConfigError&) {
      // A config of another version: this run is a group of its own.
    }
  }
  return r;
}

}  // namespace

std::vector<RunRef> discover_runs(const std::vector<std::string>& dirs,
                                  std::vector<std::string>* notes) {
  std::vector<RunRef> runs;
  for (const std::string& arg : dirs) {
    require_directory(arg, "run or sweep directory");
    const fs::path dir(arg);
    if (is_file(dir / "metrics.jsonl")) {
      runs.push_back(describe_run(dir));
      continue;
    }
    std::vector<fs::path> members;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::error_code ec;
      if (entry.is_directory(ec) &&
          (is_file(entry.path() / "metrics.jsonl") || is_file(entry.path() / "member.json")))
        members.push_back(entry.path());
    }
    if (members.empty())
      throw ConfigError(arg,
                        "is neither a run directory (no metrics.jsonl) nor a sweep directory "
                        "(no sub-directory with one)");
    std::sort(members.begin(), members.end());
    for (const fs::path& m : members) {
      const bool sweep_member = is_file(m / "member.json");
      if (sweep_member && !is_file(m / "DONE")) {
        notes->push_back("left out " + m.string() + ": not finished (" +
                         (is_file(m / "FAILED") ? "failed" : "no DONE marker") + ")");
        continue;
      }
      if (!is_file(m / "metrics.jsonl")) {
        notes->push_back("left out " + m.string() + ": no metrics.jsonl");
        continue;
      }
      runs.push_back(describe_run(m));
    }
  }
  return runs;
}

}  // namespace switchyard::launch
