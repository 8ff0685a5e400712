// File: models/moe/router_registry.h
//
// RouterRegistry: router kinds by name, so that users add routers without editing the library.
// A registry is a value passed to the builder (no global registration):
//
//   RouterRegistry registry = RouterRegistry::with_builtins();
//   registry.add("my_router", [](const RouterOptions& o) { return std::make_shared<MyRouter>(o);
//   }); options.router.kind = "my_router";  // then build_moe_layer(..., registry)
//
// Built-ins: "top_k" (TopKRouter), "gshard" (GShardRouter), "expert_choice" (ExpertChoiceRouter),
// "stablemoe" (StableMoERouter), "smile" (SmileRouter), "locmoe" (LocMoERouter).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/moe/router.h"
#include "models/moe/router_options.h"

namespace switchyard::models {

using RouterFactory = std::function<std::shared_ptr<Router>(const RouterOptions&)>;

class RouterRegistry {
 public:
  // An empty registry.
  RouterRegistry() = default;
  // A registry holding the built-in routers.
  static RouterRegistry with_builtins();

  // Throws InternalError when `name` is already registered.
  void add(const std::string& name, RouterFactory factory);
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;
  // Creates the router named options.kind; ConfigError("model.moe.router.kind") if unknown.
  std::shared_ptr<Router> create(const RouterOptions& options) const;

 private:
  std::map<std::string, RouterFactory> factories_;
};

}  // namespace switchyard::models
