// File: core/check.h
//
// SY_CHECK(cond) << "message " << value;   throws switchyard::InternalError when cond is false,
// with the condition text, file:line and the streamed message. For invariants only; user input
// is validated up front and reported as ConfigError.
#pragma once

#include <sstream>

#include "core/errors.h"

namespace switchyard::detail {

// Collects the streamed message and throws from its destructor at the end of the full
// expression. Only ever constructed by the SY_CHECK macros.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() noexcept(false);

  template <typename T>
  CheckFailure& operator<<(const T& value) {
    message_ << value;
    return *this;
  }

 private:
  std::ostringstream message_;
};

}  // namespace switchyard::detail

#define SY_CHECK(cond) \
  if (cond) {          \
  } else               \
    ::switchyard::detail::CheckFailure(__FILE__, __LINE__, #cond)

#define SY_CHECK_OP(a, op, b) SY_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define SY_CHECK_EQ(a, b) SY_CHECK_OP(a, ==, b)
#define SY_CHECK_NE(a, b) SY_CHECK_OP(a, !=, b)
#define SY_CHECK_LT(a, b) SY_CHECK_OP(a, <, b)
#define SY_CHECK_LE(a, b) SY_CHECK_OP(a, <=, b)
#define SY_CHECK_GT(a, b) SY_CHECK_OP(a, >, b)
#define SY_CHECK_GE(a, b) SY_CHECK_OP(a, >=, b)
