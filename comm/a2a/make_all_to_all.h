// File: comm/a2a/make_all_to_all.h
//
// The all-to-all strategy factory: algorithm enum + process groups -> AllToAll.
#pragma once

#include <memory>

#include "comm/all_to_all.h"
#include "comm/process_groups.h"

namespace switchyard::comm {

// kFlat works for every group. kHierarchical, kLeader and kInterFirst need
// groups.expert_is_node_contiguous (ConfigError "comm.all_to_all" otherwise); when the EP group
// spans one node, or has one rank per node, they still work (one of their phases is a self copy).
// Not collective.
std::shared_ptr<AllToAll> make_all_to_all(AllToAllAlgorithm algorithm,
                                          const ProcessGroups& groups,
                                          const AllToAllStrategyOptions& options = {});

// The two exchanges of the node-deduplicated dispatch (models/moe/node_dedup_dispatcher.h):
// flat all-to-alls over groups.expert_inter_node (N ranks, one per node: every message is
// inter-node) and groups.expert_intra_node (G ranks of one node: every message is intra-node).
struct NodePhaseAllToAlls {
  std::shared_ptr<AllToAll> inter_node;
  std::shared_ptr<AllToAll> intra_node;
};

// Where node deduplication applies: a node-contiguous EP group of N >= 2 nodes x G >= 2 ranks.
// (With G == 1 nothing is deduplicated within a node to fan out, with N == 1 nothing crosses a
// node.)
bool node_dedup_applies(const ProcessGroups& groups);

// Both strategies when node_dedup_applies(groups), else both null. Not collective.
NodePhaseAllToAlls make_node_phase_all_to_alls(const ProcessGroups& groups,
                                               const AllToAllStrategyOptions& options = {});

}  // namespace switchyard::comm
