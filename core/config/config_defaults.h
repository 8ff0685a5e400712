// File: core/config/config_defaults.h
#pragma once

#include <google/protobuf/message.h>

namespace switchyard::config {

// Sets every unset optional field of `message` (recursively, into every singular sub-message) to
// its schema default, so that printing shows every value the run uses. Repeated fields are left
// as they are.
void fill_defaults(google::protobuf::Message* message);

}  // namespace switchyard::config
