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
  const auto num_layers = static_cast<int64_t>(layers_.size());
  const bool has_reference = previous_assignment_.size() == layers_.size();
  // [L, 4]: changed (used slot), changed (logit argmax), tokens, Dirichlet distance; summed over
  // the world.
  at::Tensor sums = at::zeros({num_layers, 4}, at::kDouble);
  std::vector<at::Tensor> assignment(layers_.size());
  std::vector<at::Tensor> argmax(layers_.size());
  for (int64_t l = 0; l < num_layers; ++l) {
    const models::RoutingResult& r = layers_[static_cast<size_t>(l)]->last_routing();
    assignment[l] = r.expert_ids.detach().select(1, 0).clone();  // [T]
    argmax[l] = r.logits.detach().argmax(-1);                    // [T]
    at::Tensor p = r.scores.detach().to(at::kDouble);            // [T, E]
    p = p / p.sum(-1, /*keepdim=*/true).clamp_min(1e-300);
    if (has_reference) {
      sums[l][0] = static_cast<double>(changed_assignments(previous_assignment_[l], assignment[l]));
      sums[l][1] = static_cast<double>(changed_assignments(previous_argmax_[l], argmax[l]));
    }
    sums[l][2] = static_cast<double>(assignment[l].numel());
    sums[l][3] = models::dpsl_distance(p, prior_);
  }
  // [L, 4] summed over the world.
  const std::vector<double> summed = comm::all_reduce_sum(
      *world_,
      std::vector<double>(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel()));
  sums = at::tensor(summed, at::kDouble).view({num_layers, 4});
  nlohmann::json out = nlohmann::json::array();
  for (int64_t l = 0; l < num_layers; ++l) {
    const double tokens = sums[l][2].item<double>();
    nlohmann::json layer = {{"probe_tokens", static_cast<int64_t>(tokens)},
                            {"dirichlet_distance", sums[l][3].item<double>() / world_->size()},
                            {"fluctuation", nullptr},
                            {"logit_argmax_fluctuation", nullptr}};
    if (has_reference && tokens > 0) {
      layer["fluctuation"] = sums[l][0].item<double>() / tokens;
      layer["logit_argmax_fluctuation"] = sums[l][1].item<double>() / tokens;
    }
    out.push_back(layer);
  }
  previous_assignment_ = std::move(assignment);
  previous_argmax_ = std::move(argmax);
  return {{"layers", out}};
}

}  // namespace switchyard::train
