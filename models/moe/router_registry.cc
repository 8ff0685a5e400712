#include "models/moe/router_registry.h"

#include "core/check.h"
#include "core/errors.h"
#include "models/moe/routers/expert_choice_router.h"
#include "models/moe/routers/gshard_router.h"
#include "models/moe/routers/locmoe_router.h"
#include "models/moe/routers/smile_router.h"
#include "models/moe/routers/stablemoe_router.h"
#include "models/moe/routers/topk_router.h"

namespace switchyard::models {

RouterRegistry RouterRegistry::with_builtins() {
  RouterRegistry registry;
  registry.add("top_k", [](const RouterOptions& o) { return std::make_shared<TopKRouter>(o); });
  registry.add("gshard", [](const RouterOptions& o) { return std::make_shared<GShardRouter>(o); });
  registry.add("expert_choice",
               [](const RouterOptions& o) { return std::make_shared<ExpertChoiceRouter>(o); });
  registry.add("stablemoe",
               [](const RouterOptions& o) { return std::make_shared<StableMoERouter>(o); });
  registry.add("smile", [](const RouterOptions& o) { return std::make_shared<SmileRouter>(o); });
  registry.add("locmoe", [](const RouterOptions& o) { return std::make_shared<LocMoERouter>(o); });
  return registry;
}

void RouterRegistry::add(const std::string& name, RouterFactory factory) {
  SY_CHECK(!contains(name)) << "router kind '" << name << "' is already registered";
  SY_CHECK(static_cast<bool>(factory)) << "empty factory for router kind '" << name << "'";
  factories_.emplace(name, std::move(factory));
}

bool RouterRegistry::contains(const std::string& name) const { return factories_.count(name) > 0; }

std::vector<std::string> RouterRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& entry : factories_) out.push_back(entry.first);
  return out;
}

std::shared_ptr<Router> RouterRegistry::create(const RouterOptions& options) const {
  auto it = factories_.find(options.kind);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& name : names()) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError("model.moe.router.kind",
                      "unknown router '" + options.kind + "' (registered: " + known + ")");
  }
  return it->second(options);
}

}  // namespace switchyard::models
