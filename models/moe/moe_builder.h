// File: models/moe/moe_builder.h
//
// The only models/ file that reads the config proto: MoELayerConfig -> MoEBuildOptions (plain
// structs), and MoEBuildOptions + parallel context -> a wired MoELayer.
#pragma once

#include <cstdint>
#include <memory>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "models/moe/moe_layer.h"
#include "models/moe/router_options.h"
#include "models/moe/router_registry.h"

namespace switchyard::config {
class MoELayerConfig;
}

namespace switchyard::models {

enum class ExpertCompute { kBatched, kSequential };

struct MoEBuildOptions {
  RouterOptions router;
  MoELayerOptions layer;
  ExpertOptions experts;  // num_local_experts / first_expert are set by build_moe_layer
  ExpertCompute compute = ExpertCompute::kBatched;
};

// Expert parallelism of one layer. All null = single process (LocalDispatcher).
struct MoEParallel {
  std::shared_ptr<comm::Communicator> expert_group;  // EP group (device payload: ERC's gather)
  std::shared_ptr<comm::AllToAll> all_to_all;        // flat or hierarchical, over the EP group
  // The global batch (normally the host world): row offsets for batch-wide routing noise.
  std::shared_ptr<comm::Communicator> host_batch_group;
  // The EP group's host communicator (expert counts, shuffle counts); null = expert_group.
  std::shared_ptr<comm::Communicator> host_expert_group;
  // Node-deduplicated exchange (node_dedup_dispatcher.h, docs/dedup.md): all-to-alls over the
  // EP group's inter-node communicator (N ranks, one per node) and intra-node communicator (G
  // ranks); comm::make_node_phase_all_to_alls builds them. Both set = the layer dispatches with
  // NodeDedupDispatcher instead of `all_to_all` (which the token shuffle still uses).
  std::shared_ptr<comm::AllToAll> dedup_inter_node;
  std::shared_ptr<comm::AllToAll> dedup_intra_node;
  // comm.overlap_chunks: > 1 pipelines the all-to-all dispatcher's exchange with the experts
  // (pipelined_expert_pass.h). Not with the node-deduplicated dispatcher (ConfigError).
  int overlap_chunks = 1;
};

// hidden_size, seq_len: from ModelConfig. seed: TrainConfig.seed. ep_num_nodes resolves
// group_limited.num_groups = -1 (one group per node of the EP group).
MoEBuildOptions moe_options_from_config(const config::MoELayerConfig& config,
                                        int64_t hidden_size,
                                        int64_t seq_len,
                                        int64_t layer_index,
                                        uint64_t seed,
                                        int ep_num_nodes = 1);

// Not collective. Experts: E / P local experts starting at ep_rank * E / P.
MoELayer build_moe_layer(const MoEBuildOptions& options,
                         const MoEParallel& parallel,
                         AuxLossCollector* aux_losses,
                         const RouterRegistry& registry = RouterRegistry::with_builtins());

}  // namespace switchyard::models
