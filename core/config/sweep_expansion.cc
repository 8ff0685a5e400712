#include "core/config/sweep_expansion.h"

#include <map>

#include "core/config/config_overrides.h"
#include "core/errors.h"

namespace switchyard::config {
namespace {

struct Point {
  std::string label;
  std::vector<std::string> set;
};

// Characters outside [A-Za-z0-9._-] become '-' (labels are directory names).
std::string sanitize(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  return out.empty() ? std::string("empty") : out;
}

std::string last_component(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string value_of(const std::string& assignment) {
  const auto eq = assignment.find('=');
  return eq == std::string::npos ? assignment : assignment.substr(eq + 1);
}

std::vector<Point> points_of(const SweepAxis& axis, size_t index, const std::string& source) {
  std::vector<Point> points;
  if (axis.point_size() == 0) {
    for (const std::string& v : axis.values())
      points.push_back(
          {last_component(axis.field()) + "-" + sanitize(v), {axis.field() + "=" + v}});
  } else {
    for (const SweepPoint& p : axis.point()) {
      Point point{p.label(), {p.set().begin(), p.set().end()}};
      if (point.label.empty()) {
        for (const std::string& s : point.set)
          point.label += (point.label.empty() ? "" : "-") + sanitize(value_of(s));
      }
      points.push_back(point);
    }
  }
  std::map<std::string, size_t> seen;
  for (size_t p = 0; p < points.size(); ++p) {
    const auto [it, fresh] = seen.emplace(points[p].label, p);
    if (!fresh)
      throw ConfigError(source, "field 'axis[" + std::to_string(index) + "]': points " +
                                    std::to_string(it->second) + " and " + std::to_string(p) +
                                    " both have the label '" + points[p].label +
                                    "' (set 'label' to tell them apart)");
  }
  return points;
}

}  // namespace

std::string axis_display_name(const SweepAxis& axis, size_t i) {
  if (!axis.name().empty()) return axis.name();
  if (!axis.field().empty()) return axis.field();
  return "axis" + std::to_string(i);
}

std::vector<SweepMember> expand_sweep(const SweepConfig& sweep,
                                      uint64_t default_seed,
                                      const std::string& source) {
  std::vector<std::vector<Point>> axes;
  for (int i = 0; i < sweep.axis_size(); ++i)
    axes.push_back(points_of(sweep.axis(i), static_cast<size_t>(i), source));

  // Combinations as one point index per axis.
  std::vector<std::vector<size_t>> combos;
  if (axes.empty()) {
    combos.push_back({});
  } else if (sweep.combine() == SweepConfig::ZIPPED) {
    for (size_t p = 0; p < axes[0].size(); ++p)
      combos.push_back(std::vector<size_t>(axes.size(), p));
  } else {
    std::vector<size_t> at(axes.size(), 0);
    bool carry = false;
    while (!carry) {
      combos.push_back(at);
      carry = true;  // odometer: the last axis varies fastest
      for (size_t a = axes.size(); a > 0 && carry; --a) {
        carry = ++at[a - 1] == axes[a - 1].size();
        if (carry) at[a - 1] = 0;
      }
    }
  }

  std::vector<uint64_t> seeds(sweep.seeds().begin(), sweep.seeds().end());
  if (seeds.empty()) seeds.push_back(default_seed);

  std::vector<SweepMember> members;
  for (const std::vector<size_t>& combo : combos) {
    SweepMember base;
    base.overrides.assign(sweep.set().begin(), sweep.set().end());
    for (size_t a = 0; a < axes.size(); ++a) {
      const Point& point = axes[a][combo[a]];
      base.group += (base.group.empty() ? "" : "_") + point.label;
      base.points.emplace_back(axis_display_name(sweep.axis(static_cast<int>(a)), a), point.label);
      base.overrides.insert(base.overrides.end(), point.set.begin(), point.set.end());
    }
    if (base.group.empty()) base.group = "base";
    for (uint64_t seed : seeds) {
      SweepMember m = base;
      m.index = members.size();
      m.seed = seed;
      m.name = m.group + ".seed" + std::to_string(seed);
      m.overrides.push_back("train.seed=" + std::to_string(seed));
      members.push_back(std::move(m));
    }
  }
  std::map<std::string, size_t> names;
  for (const SweepMember& m : members) {
    const auto [it, fresh] = names.emplace(m.name, m.index);
    if (!fresh)
      throw ConfigError(source, "members " + std::to_string(it->second) + " and " +
                                    std::to_string(m.index) + " have the same name '" + m.name +
                                    "' (give the points distinct labels)");
  }
  return members;
}

ExperimentConfig member_config(const ExperimentConfig& base,
                               const SweepMember& member,
                               const std::string& run_dir,
                               const std::string& source) {
  ExperimentConfig config = base;
  for (const std::string& o : member.overrides) {
    try {
      apply_override(&config, o);
    } catch (const ConfigError& e) {
      throw ConfigError(source, "member '" + member.name + "': override '" + o + "': " + e.what());
    }
  }
  config.mutable_logging()->set_run_dir(run_dir);
  config.mutable_checkpoint()->set_dir(run_dir + "/checkpoints");
  return config;
}

int member_world_size(const SweepConfig& sweep, const ExperimentConfig& member) {
  if (sweep.world_size() > 0) return sweep.world_size();
  if (member.parallel().world_size() > 0) return member.parallel().world_size();
  return 1;
}

}  // namespace switchyard::config
