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

}  // namespace switchyard::comm
