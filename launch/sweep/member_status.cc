#include "launch/sweep/member_status.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "launch/sweep/atomic_write.h"

namespace switchyard::launch {
namespace {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

const char* status_name(MemberStatus s) {
  switch (s) {
    case MemberStatus::kFinished:
      return "finished";
    case MemberStatus::kFailed:
      return "failed";
    case MemberStatus::kPending:
      break;
  }
  return "pending";
}

MemberStatus member_status(const std::string& member_dir) {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(member_dir) / "DONE", ec)) return MemberStatus::kFinished;
  if (fs::is_regular_file(fs::path(member_dir) / "FAILED", ec)) return MemberStatus::kFailed;
  return MemberStatus::kPending;
}

void mark_finished(const std::string& member_dir, double seconds) {
  const nlohmann::json j = {{"exit_status", 0}, {"finished_at", utc_now()}, {"seconds", seconds}};
  write_file_atomically(member_dir + "/DONE", j.dump() + "\n");
  std::error_code ec;
  fs::remove(fs::path(member_dir) / "FAILED", ec);
}

void mark_failed(const std::string& member_dir, int exit_status, const std::string& log_path) {
  const nlohmann::json j = {
      {"exit_status", exit_status}, {"failed_at", utc_now()}, {"log", log_path}};
  write_file_atomically(member_dir + "/FAILED", j.dump() + "\n");
}

int recorded_exit_status(const std::string& member_dir) {
  std::ifstream in(fs::path(member_dir) / "FAILED");
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j.contains("exit_status") || !j["exit_status"].is_number_integer())
    return -1;
  return j["exit_status"].get<int>();
}

}  // namespace switchyard::launch
