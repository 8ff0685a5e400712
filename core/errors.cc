#include "core/errors.h"

#include <utility>

namespace switchyard {

ConfigError::ConfigError(std::string path, std::string reason)
    : Error(path + ": " + reason), path_(std::move(path)), reason_(std::move(reason)) {}

}  // namespace switchyard
