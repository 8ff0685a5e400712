#include "launch/plan/step_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "launch/plan/allreduce_cost.h"

namespace switchyard::plan {

StepPrediction predict_step(const ClusterSpec& cluster,
                            const ModelShape& model,
                            const Layout& layout,
                            A2aAlgorithm algorithm) {
  StepPrediction p;
  p.layout = layout;
  p.algorithm = algorithm;
  p.capacity_factor = model.capacity_factor;
  p.compute = step_compute(cluster, layout, model);
  if (model.moe_layers > 0 && layout.ep > 1) {
    const MoeLayerComm c = moe_layer_comm(cluster, layout, model, algorithm);
    p.a2a = static_cast<double>(model.moe_layers) * c.a2a;
    p.a2a += static_cast<double>(model.moe_layers) * c.count_exchange;
    p.a2a_exchange_s = c.dispatch.time.total();
    p.inter_bytes_per_rank = model.moe_layers * c.inter_bytes_per_rank;
  }
  const ParamCount params = param_count(model, layout);
  const int g_world = std::min(layout.world, layout.ranks_per_node);
  const double dense =
      allreduce_time(cluster, layout, 4 * params.dense, layout.world, g_world).best();
  // Expert-data group: ranks with the same EP rank, P apart: on one node only if P < G.
  const int expert_group = layout.world / layout.ep;
  const int g_expert = layout.ep < layout.ranks_per_node ? layout.ranks_per_node / layout.ep : 1;
  const double expert =
      allreduce_time(cluster, layout, 4 * params.expert_local, expert_group, g_expert).best();
  p.allreduce_s = dense + expert;
  const RankDevice dev = rank_device(cluster, layout, model);
  p.optimizer_s = 28 * (params.dense + params.expert_local) / dev.bytes_per_s;
  p.step_s = p.compute.total() + p.a2a.total() + p.allreduce_s + p.optimizer_s;
  p.tokens_per_s = static_cast<double>(model.global_batch * model.seq) / p.step_s;
  p.memory = memory_per_rank(model, layout);
  p.memory_limit = cluster.memory_gib() * 1024.0 * 1024.0 * 1024.0;
  p.fits = p.memory.total() <= p.memory_limit;
  return p;
}

std::vector<StepPrediction> plan_candidates(const ClusterSpec& cluster,
                                            const ModelShape& model,
                                            int world,
                                            int ranks_per_node,
                                            int physical_hosts) {
  std::vector<double> factors = {model.capacity_factor, 0.0, 1.25};
  std::sort(factors.begin(), factors.end());
  factors.erase(std::unique(factors.begin(), factors.end()), factors.end());
  std::vector<StepPrediction> out;
  for (int ep = 1; ep <= world; ++ep) {
    if (world % ep != 0 || model.experts % ep != 0) continue;
    Layout layout{world, ep, ranks_per_node, physical_hosts};
    for (A2aAlgorithm a : {A2aAlgorithm::kFlat, A2aAlgorithm::kHierarchical, A2aAlgorithm::kLeader,
                           A2aAlgorithm::kHierarchicalDedup}) {
      if (ep == 1 && a != A2aAlgorithm::kFlat) continue;
      if (!a2a_applies(a, layout)) continue;
      for (double cf : factors) {
        ModelShape m = model;
        m.capacity_factor = cf;
        out.push_back(predict_step(cluster, m, layout, a));
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const StepPrediction& a, const StepPrediction& b) {
    return a.step_s < b.step_s;
  });
  return out;
}

Recommendation recommend(const std::vector<StepPrediction>& c, double capacity_factor) {
  Recommendation r;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].fits && c[i].capacity_factor == capacity_factor) {
      r.index = static_cast<int>(i);
      break;
    }
  }
  if (r.index < 0) {
    r.reason = "nothing fits in memory at this capacity factor; use more ranks or a smaller model";
    return r;
  }
  const StepPrediction& best = c[r.index];
  // The runner-up: the fastest other algorithm at the same EP size, else the next candidate.
  const StepPrediction* other = nullptr;
  for (const StepPrediction& p : c) {
    if (&p == &best || p.capacity_factor != capacity_factor || !p.fits) continue;
    if (p.layout.ep == best.layout.ep && p.algorithm != best.algorithm) {
      other = &p;
      break;
    }
  }
  for (const StepPrediction& p : c) {
    if (other != nullptr) break;
    if (&p != &best && p.capacity_factor == capacity_factor && p.fits) other = &p;
  }
  char line[400];
  const double comm = best.a2a.total() / best.step_s * 100;
  if (other == nullptr) {
    std::snprintf(line, sizeof line,
                  "EP %d with %s: the only candidate that fits (%.0f%% of the "
                  "step in the token exchange)",
                  best.layout.ep, a2a_name(best.algorithm).c_str(), comm);
  } else {
    std::snprintf(line, sizeof line,
                  "EP %d with %s: %.2fx faster than EP %d with %s (exchange %.3f vs %.3f ms per "
                  "step, %.0f%% of the step), %.2f of %.0f GiB per rank",
                  best.layout.ep, a2a_name(best.algorithm).c_str(), other->step_s / best.step_s,
                  other->layout.ep, a2a_name(other->algorithm).c_str(), best.a2a.total() * 1e3,
                  other->a2a.total() * 1e3, comm, best.memory.total() / (1 << 30),
                  best.memory_limit / (1 << 30));
  }
  r.reason = line;
  return r;
}

}  // namespace switchyard::plan
