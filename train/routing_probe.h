// File: train/routing_probe.h
//
// Routing-quality metrics of a fixed probe batch (metrics.jsonl "routing_probe"):
//   * routing fluctuation (StableMoE, Dai et al., arXiv 2204.08396): the fraction of probe tokens
//     whose expert changed since the reference snapshot. The probe batch is validation batch 0
//     (this rank's rows), routed in eval mode without gradient every N steps
//     (logging.routing_probe_every); the reference snapshot is the previous probe, N steps
//     earlier (none right after start or resume: the value is then null). Two assignments:
//       "fluctuation": the first assignment slot the router actually uses in eval mode (StableMoE:
//         the distilled router, so it is exactly 0 in stage 2);
//       "logit_argmax_fluctuation": argmax of the router logits (StableMoE: the backbone
//         centroids, i.e. the stage-1 training assignment; top-k: the first choice).
//   * "dirichlet_distance": the DPSL distance (Mirvakhabova et al., arXiv 2510.01185) of the probe
//     tokens' normalized router scores to the configured Dirichlet prior (symmetric 1.0 when DPSL
//     is not configured), averaged over ranks.
#pragma once

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "comm/communicator.h"
#include "models/moe/dpsl_loss.h"
#include "models/moe/moe_layer.h"

namespace switchyard::train {

// Number of positions where the [T] assignments differ (same T required).
int64_t changed_assignments(const at::Tensor& previous, const at::Tensor& current);

class RoutingProbe {
 public:
  // world: the host world communicator (comm/host_collectives.h).
  RoutingProbe(std::vector<models::MoELayer> layers,
               std::shared_ptr<comm::Communicator> world,
               models::DirichletPrior prior);

  // Reads every layer's last routing (the probe forward), returns {"layers": [{...}, ...]} and
  // makes this probe the reference of the next. Collective over the world.
  nlohmann::json measure();

 private:
  std::vector<models::MoELayer> layers_;
  std::shared_ptr<comm::Communicator> world_;
  models::DirichletPrior prior_;
  std::vector<at::Tensor> previous_assignment_;  // per layer [T]
  std::vector<at::Tensor> previous_argmax_;      // per layer [T]
};

}  // namespace switchyard::train
