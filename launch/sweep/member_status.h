// File: launch/sweep/member_status.h
//
// Where a sweep member stands, from the markers in its run directory:
//   DONE    written atomically after `train` exited 0: the member is finished and is skipped
//   FAILED  written after a non-zero exit (status and log path); removed when the member reruns
// A directory with neither (never started, or killed mid-run) is pending: the next `sweep run`
// runs it again, and `train` resumes from its newest checkpoint there.
#pragma once

#include <string>

namespace switchyard::launch {

enum class MemberStatus { kPending, kFinished, kFailed };

const char* status_name(MemberStatus s);  // "pending", "finished", "failed"

MemberStatus member_status(const std::string& member_dir);

// The marker files (atomic; the other marker is removed).
void mark_finished(const std::string& member_dir, double seconds);
void mark_failed(const std::string& member_dir, int exit_status, const std::string& log_path);

// The exit status recorded in FAILED, or -1.
int recorded_exit_status(const std::string& member_dir);

}  // namespace switchyard::launch
