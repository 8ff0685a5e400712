#include "train/routing_probe.h"

#include <ATen/ATen.h>

#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::train {

int64_t changed_assignments(const at::Tensor& previous, const at::Tensor& current) {
  SY_CHECK_EQ(previous.numel(), current.numel()) << "probe assignments differ in size";
  return previous.reshape({-1}).ne(current.reshape({-1})).sum().item<int64_t>();
}

RoutingProbe::RoutingProbe(std::vector<models::MoELayer> layers,
                           std::shared_ptr<comm::Communicator> world,
                           models::DirichletPrior prior)
    : layers_(std::move(layers)), world_(std::move(world)), prior_(std::move(prior)) {}

nlohmann::json RoutingProbe::measure() {
  const size_t num_layers = layers_.size();
  const bool has_reference = previous_assignment_.size() == num_layers;
  // [L * 4] row-major: changed (used slot), changed (logit argmax), tokens, Dirichlet distance;
  // summed over the world in one all-reduce.
  std::vector<double> sums(4 * num_layers, 0.0);
  std::vector<at::Tensor> assignment(num_layers);
  std::vector<at::Tensor> argmax(num_layers);
  for (size_t l = 0; l < num_layers; ++l) {
    const models::RoutingResult& r = layers_[l]->last_routing();
    assignment[l] = r.expert_ids.detach().select(1, 0).clone();  // [T]
    argmax[l] = r.logits.detach().argmax(-1);                    // [T]
    at::Tensor p = r.scores.detach().to(at::kDouble);            // [T, E]
    p = p / p.sum(-1, /*keepdim=*/true).clamp_min(1e-300);
    double* row = &sums[4 * l];
    if (has_reference) {
      row[0] = static_cast<double>(changed_assignments(previous_assignment_[l], assignment[l]));
      row[1] = static_cast<double>(changed_assignments(previous_argmax_[l], argmax[l]));
    }
    row[2] = static_cast<double>(assignment[l].numel());
    row[3] = models::dpsl_distance(p, prior_);
  }
  sums = comm::all_reduce_sum(*world_, std::move(sums));
  nlohmann::json out = nlohmann::json::array();
  for (size_t l = 0; l < num_layers; ++l) {
    const double* row = &sums[4 * l];
    const double tokens = row[2];
    nlohmann::json layer = {{"probe_tokens", static_cast<int64_t>(tokens)},
                            {"dirichlet_distance", row[3] / world_->size()},
                            {"fluctuation", nullptr},
                            {"logit_argmax_fluctuation", nullptr}};
    if (has_reference && tokens > 0) {
      layer["fluctuation"] = row[0] / tokens;
      layer["logit_argmax_fluctuation"] = row[1] / tokens;
    }
    out.push_back(layer);
  }
  previous_assignment_ = std::move(assignment);
  previous_argmax_ = std::move(argmax);
  return {{"layers", out}};
}

}  // namespace switchyard::train
