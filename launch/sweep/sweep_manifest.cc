#include "launch/sweep/sweep_manifest.h"

#include <filesystem>

#include "core/errors.h"
#include "launch/sweep/atomic_write.h"
#include "launch/sweep/member_status.h"

namespace switchyard::launch {

nlohmann::json sweep_manifest(const SweepPlan& plan) {
  const config::SweepConfig& s = plan.loaded.sweep;
  nlohmann::json members = nlohmann::json::array();
  for (const PlannedMember& m : plan.members) {
    nlohmann::json j = member_json(m, plan);
    j["dir"] = m.dir;
    const MemberStatus status = member_status(m.dir);
    j["status"] = status_name(status);
    if (status == MemberStatus::kFailed) j["exit_status"] = recorded_exit_status(m.dir);
    j["log"] = m.dir + "/train.log";
    members.push_back(j);
  }
  return {{"name", s.name()},
          {"sweep_file", plan.loaded.path},
          {"base", plan.loaded.base_path},
          {"combine", config::SweepConfig::Combine_Name(s.combine())},
          {"members", members}};
}

void write_sweep_manifest(const SweepPlan& plan) {
  std::error_code ec;
  std::filesystem::create_directories(plan.dir, ec);
  if (ec) throw Error("cannot create '" + plan.dir + "': " + ec.message());
  write_file_atomically(plan.dir + "/sweep.json", sweep_manifest(plan).dump(2) + "\n");
}

}  // namespace switchyard::launch
