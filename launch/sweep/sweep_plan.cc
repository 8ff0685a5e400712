#include "launch/sweep/sweep_plan.h"

#include <filesystem>

#include "core/config/config_loader.h"
#include "core/config/config_validation.h"
#include "core/errors.h"
#include "launch/sweep/atomic_write.h"

namespace switchyard::launch {

SweepPlan plan_sweep(const std::string& sweep_path, const std::string& out_dir, bool check_files) {
  SweepPlan plan;
  plan.loaded = config::load_sweep_file(sweep_path);
  const config::SweepConfig& sweep = plan.loaded.sweep;
  config::ExperimentConfig base;
  try {
    base = config::load_config_file(plan.loaded.base_path);
  } catch (const ConfigError& e) {
    throw ConfigError(sweep_path, "field 'base': " + std::string(e.what()));
  }
  plan.dir = !out_dir.empty()
                 ? out_dir
                 : (std::filesystem::path(sweep.output_root()) / sweep.name()).string();
  const auto members = config::expand_sweep(sweep, base.train().seed(), sweep_path);
  for (const config::SweepMember& m : members) {
    PlannedMember p;
    p.member = m;
    p.dir = (std::filesystem::path(plan.dir) / m.name).string();
    p.config = config::member_config(base, m, p.dir, sweep_path);
    p.world_size = config::member_world_size(sweep, p.config);
    config::ValidationContext context;
    context.world_size = p.world_size;
    context.check_files = check_files;
    const auto issues = config::find_config_issues(p.config, context);
    if (!issues.empty())
      throw ConfigError(sweep_path, "member '" + m.name + "' (" + std::to_string(p.world_size) +
                                        " ranks): " + issues[0].path + ": " + issues[0].reason);
    plan.members.push_back(std::move(p));
  }
  return plan;
}

nlohmann::json member_json(const PlannedMember& m, const SweepPlan& plan) {
  nlohmann::json points = nlohmann::json::object();
  for (const auto& [axis, label] : m.member.points) points[axis] = label;
  return {{"sweep", plan.loaded.sweep.name()}, {"index", m.member.index},   {"name", m.member.name},
          {"group", m.member.group},           {"seed", m.member.seed},     {"points", points},
          {"overrides", m.member.overrides},   {"world_size", m.world_size}};
}

void materialize_member(const PlannedMember& m, const SweepPlan& plan) {
  std::error_code ec;
  std::filesystem::create_directories(m.dir, ec);
  if (ec) throw Error("cannot create '" + m.dir + "': " + ec.message());
  write_file_atomically(m.dir + "/config.pbtxt", config::resolved_config_text(m.config));
  write_file_atomically(m.dir + "/member.json", member_json(m, plan).dump(2) + "\n");
}

}  // namespace switchyard::launch
