#include "core/config/sweep_loader.h"

#include <filesystem>
#include <set>

#include "core/config/config_loader.h"
#include "core/errors.h"
#include "core/input_file.h"

namespace switchyard::config {
namespace {

[[noreturn]] void fail(const std::string& source,
                       const std::string& field,
                       const std::string& why) {
  throw ConfigError(source, "field '" + field + "': " + why);
}

void validate_axis(const SweepAxis& axis, size_t i, const std::string& source) {
  const std::string at = "axis[" + std::to_string(i) + "]";
  if (!axis.name().empty() && !is_safe_name(axis.name()))
    fail(source, at + ".name", "'" + axis.name() + "' must be letters, digits, '.', '_' or '-'");
  const bool by_field = !axis.field().empty() || axis.values_size() > 0;
  if (by_field && axis.point_size() > 0)
    fail(source, at, "give either 'field' with 'values' or 'point's, not both");
  if (!by_field && axis.point_size() == 0)
    fail(source, at, "has no points: give 'field' with 'values', or 'point's");
  if (by_field) {
    if (axis.field().empty()) fail(source, at + ".field", "must be set with 'values'");
    if (axis.field().find('=') != std::string::npos)
      fail(source, at + ".field", "is a field path without '=', got '" + axis.field() + "'");
    if (axis.values_size() == 0) fail(source, at + ".values", "must not be empty with 'field'");
    return;
  }
  for (int p = 0; p < axis.point_size(); ++p) {
    const SweepPoint& point = axis.point(p);
    const std::string pat = at + ".point[" + std::to_string(p) + "]";
    if (!point.label().empty() && !is_safe_name(point.label()))
      fail(source, pat + ".label",
           "'" + point.label() + "' must be letters, digits, '.', '_' or '-'");
    if (point.set_size() == 0) fail(source, pat + ".set", "must hold at least one override");
    for (int s = 0; s < point.set_size(); ++s) {
      if (point.set(s).find('=') == std::string::npos)
        fail(source, pat + ".set[" + std::to_string(s) + "]",
             "expected path=value, got '" + point.set(s) + "'");
    }
  }
}

}  // namespace

bool is_safe_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void validate_sweep(const SweepConfig& sweep, const std::string& source) {
  if (sweep.name().empty()) fail(source, "name", "must be set");
  if (!is_safe_name(sweep.name()))
    fail(source, "name", "'" + sweep.name() + "' must be letters, digits, '.', '_' or '-'");
  if (sweep.base().empty()) fail(source, "base", "must name the base experiment config");
  if (sweep.output_root().empty()) fail(source, "output_root", "must not be empty");
  if (sweep.world_size() < 0)
    fail(source, "world_size", "must be >= 0, got " + std::to_string(sweep.world_size()));
  for (int s = 0; s < sweep.set_size(); ++s) {
    if (sweep.set(s).find('=') == std::string::npos)
      fail(source, "set[" + std::to_string(s) + "]",
           "expected path=value, got '" + sweep.set(s) + "'");
  }
  std::set<std::string> axis_names;
  for (int i = 0; i < sweep.axis_size(); ++i) {
    validate_axis(sweep.axis(i), static_cast<size_t>(i), source);
    const std::string& name = sweep.axis(i).name();
    if (!name.empty() && !axis_names.insert(name).second)
      fail(source, "axis[" + std::to_string(i) + "].name", "'" + name + "' is used twice");
  }
  if (sweep.combine() == SweepConfig::ZIPPED && sweep.axis_size() > 1) {
    auto length = [](const SweepAxis& a) {
      return a.point_size() > 0 ? a.point_size() : a.values_size();
    };
    const int first = length(sweep.axis(0));
    for (int i = 1; i < sweep.axis_size(); ++i) {
      if (length(sweep.axis(i)) != first)
        fail(source, "axis[" + std::to_string(i) + "]",
             "ZIPPED axes must have the same length: " + std::to_string(length(sweep.axis(i))) +
                 " points, axis[0] has " + std::to_string(first));
    }
  }
  std::set<uint64_t> seeds;
  for (int s = 0; s < sweep.seeds_size(); ++s) {
    if (!seeds.insert(sweep.seeds(s)).second)
      fail(source, "seeds[" + std::to_string(s) + "]",
           "seed " + std::to_string(sweep.seeds(s)) + " is listed twice");
  }
}

SweepConfig parse_sweep_text(const std::string& text, const std::string& source) {
  SweepConfig sweep;
  parse_text_message(text, source, &sweep);
  validate_sweep(sweep, source);
  return sweep;
}

LoadedSweep load_sweep_file(const std::string& path) {
  std::string text = read_input_file({path, "sweep file", kMaxConfigBytes, ""});
  require_utf8_text(text, path);
  LoadedSweep loaded;
  loaded.sweep = parse_sweep_text(text, path);
  loaded.path = path;
  const std::filesystem::path base(loaded.sweep.base());
  loaded.base_path =
      base.is_absolute()
          ? base.string()
          : (std::filesystem::path(path).parent_path() / base).lexically_normal().string();
  try {
    check_input_file({loaded.base_path, "base experiment", kMaxConfigBytes, ""});
  } catch (const ConfigError& e) {
    throw ConfigError(path, std::string("field 'base': ") + e.what());
  }
  return loaded;
}

}  // namespace switchyard::config
