// File: models/moe/moe_state.h
//
// MoEState: the one object through which the trainer reaches the MoE layers of a model. It owns
// the step's aux-loss collector, holds the layers (shared with the model's blocks) and the
// expert-parallel all-to-all (traffic counters), and offers what a training step needs:
//
//   state.begin_step();                              // clears the aux losses
//   loss = task + state.aux_loss();                  // weighted sum of every layer's aux losses
//   ... backward, optimizer ...
//   state.after_optimizer_step();                    // aux-loss-free bias (1 all-reduce)
//   MoEStepReport r = state.step_report();           // global routing stats (1 all-reduce)
//
// The step, the token ids, the rows of the global batch and the timing sink travel with each
// forward (models/forward_context.h), not through this object. A dense model has an empty state:
// every call is a no-op and issues no collective.
//
// Collective calls (after_optimizer_step, step_report, aux_report) run on the host world
// communicator (comm/host_collectives.h), one collective each for all layers together.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/traffic.h"
#include "models/moe/aux_loss_collector.h"
#include "models/moe/moe_layer.h"

namespace switchyard::models {

// One MoE layer's routing over the whole global batch of a step.
struct LayerLoadReport {
  std::vector<int64_t> tokens_per_expert;  // [E] assignments selected, summed over the world
  double dropped_fraction = 0.0;           // 1 - kept / selected assignments
  double router_entropy = 0.0;             // mean over ranks
  double max_over_mean_load = 0.0;
  double load_cv = 0.0;              // population std / mean of tokens_per_expert
  double cross_node_fraction = 0.0;  // dispatched rows whose expert is on another node
  // Inter-node rows and payload bytes of the forward dispatch, summed over the world: sent by
  // the dispatcher, and without node deduplication (one row per kept cross-node assignment).
  // The combine and both backward exchanges move as many rows again.
  int64_t inter_node_rows = 0;
  int64_t inter_node_rows_without_dedup = 0;
  int64_t inter_node_bytes = 0;
  int64_t inter_node_bytes_without_dedup = 0;
  std::vector<std::pair<std::string, double>> router_metrics;  // means over ranks
};

struct MoEStepReport {
  std::vector<LayerLoadReport> layers;
  // Payload traffic of this rank's exchanges since the last report (forward and backward);
  // only with an expert-parallel all-to-all.
  bool has_traffic = false;
  comm::TrafficCounters traffic;
};

class MoEState {
 public:
  // host_world: the world's host communicator (null only for a state without layers). all_to_all:
  // the layers' exchange strategy (null without expert parallelism). expert_bias_updates: the
  // routers use DeepSeek-V3 aux-loss-free bias updates.
  MoEState(std::shared_ptr<comm::Communicator> host_world,
           std::shared_ptr<comm::AllToAll> all_to_all,
           bool expert_bias_updates);

  // Where the layers put their aux losses (pass to build_moe_layer); owned by this state.
  AuxLossCollector* aux_losses() { return &aux_losses_; }
  void add_layer(MoELayer layer);
  // A further exchange strategy whose traffic step_report() adds (the node-dedup phases).
  void add_traffic_source(std::shared_ptr<comm::AllToAll> all_to_all);
  const std::vector<MoELayer>& layers() const { return layers_; }
  bool empty() const { return layers_.empty(); }

  // Before each forward whose aux losses count (training step, evaluation batch).
  void begin_step() { aux_losses_.clear(); }
  // sum over layers and losses of coeff * value (float32 scalar, differentiable; 0 if none).
  at::Tensor aux_loss() const { return aux_losses_.weighted_sum(); }
  // Every aux loss averaged over the world, "layer<L>/<name>" -> value. Collective (one
  // all-reduce) when there are losses.
  std::vector<std::pair<std::string, double>> aux_report() const;

  // Aux-loss-free bias updates from the last forward's selection counts summed over the world.
  // Collective (one all-reduce for every layer) when enabled.
  void after_optimizer_step();
  // Global routing statistics of the last forward of every layer. Collective (one all-reduce).
  MoEStepReport step_report();

  // StableMoE stage per layer (0 = no stages), for checkpoint manifests, and its restore.
  std::vector<int> router_stages() const;
  // Every buffer of every MoE layer (the aux-loss-free expert bias and any other state a layer
  // keeps outside its parameters), named "moe.<layer index>.<buffer path in the layer>", e.g.
  // "moe.0.router.expert_bias" [E]. The tensors are the live buffers (restore copies into them);
  // they are replicated on every rank. Checkpoints store all of them.
  std::vector<std::pair<std::string, at::Tensor>> persistent_buffers() const;
  void restore_router_stages(const std::vector<int>& stages);

 private:
  std::shared_ptr<comm::Communicator> host_world_;
  std::shared_ptr<comm::AllToAll> all_to_all_;
  std::vector<std::shared_ptr<comm::AllToAll>> traffic_sources_;  // all_to_all_ and the added
  bool expert_bias_updates_ = false;
  AuxLossCollector aux_losses_;
  std::vector<MoELayer> layers_;
};

}  // namespace switchyard::models
