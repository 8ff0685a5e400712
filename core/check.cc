#include "core/check.h"

#include <string>

namespace switchyard::detail {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  message_ << "internal check failed at " << file << ":" << line << ": (" << condition << ") ";
}

CheckFailure::~CheckFailure() noexcept(false) { throw InternalError(message_.str()); }

}  // namespace switchyard::detail
