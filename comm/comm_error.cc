#include "comm/comm_error.h"

#include <sstream>

namespace switchyard::comm {
namespace {

std::string format_message(const CommErrorContext& context,
                           const std::string& reason,
                           const char* file,
                           int line) {
  std::ostringstream out;
  out << describe(context) << ": " << reason;
  if (file != nullptr) out << " [" << file << ":" << line << "]";
  return out.str();
}

}  // namespace

std::string describe(const CommErrorContext& context) {
  std::ostringstream out;
  out << (context.backend.empty() ? "comm" : context.backend) << " "
      << (context.op.empty() ? "?" : context.op);
  if (context.seq >= 0) out << " #" << context.seq;
  out << " on group '" << (context.group.empty() ? "?" : context.group) << "' (rank "
      << context.rank << " of " << context.size << ")";
  return out.str();
}

CommError::CommError(CommErrorContext context,
                     const std::string& reason,
                     const char* file,
                     int line)
    : Error(format_message(context, reason, file, line)),
      context_(std::move(context)),
      reason_(reason) {}

CommTimeoutError::CommTimeoutError(CommErrorContext context,
                                   std::chrono::milliseconds timeout,
                                   const char* file,
                                   int line)
    : CommError(std::move(context),
                "timed out after " + std::to_string(timeout.count()) +
                    " ms (a peer did not join the collective, or a link is down)",
                file,
                line),
      timeout_(timeout) {}

}  // namespace switchyard::comm
