// File: comm/a2a/exchange_messages.h
//
// The messages each all-to-all strategy sends, as pure functions of the layout: per phase, this
// rank's (layout.rank()) intra-node and inter-node message counts and payload bytes, exactly as
// the strategy's TrafficCounters record them (a message is one non-empty transfer to another
// rank in one phase; the self block is not a message). The strategies record their traffic
// through these functions, and the planner (launch/plan/) prices the same messages, so both
// see one definition. Two-level strategies: EP rank r = n * G + l over N nodes x G ranks.
// No communication, no tensors; `exchanges` of every returned counter is 0.
#pragma once

#include <cstdint>
#include <vector>

#include "comm/all_to_all.h"
#include "comm/traffic.h"

namespace switchyard::comm {

// Flat: one phase; node_of[d] = node of EP rank d ([P]). Needs send counts only.
std::vector<TrafficCounters> flat_exchange_messages(const AllToAllLayout& layout,
                                                    const std::vector<int>& node_of,
                                                    int64_t row_bytes);

// Hierarchical: [phase 1 intra-node, phase 2 inter-node]. Needs the count matrix.
std::vector<TrafficCounters> hierarchical_exchange_messages(const AllToAllLayout& layout,
                                                            int num_nodes,
                                                            int ranks_per_node,
                                                            int64_t row_bytes);

// Inter-node first: [phase 1 inter-node, phase 2 intra-node]. Needs the count matrix.
std::vector<TrafficCounters> inter_first_exchange_messages(const AllToAllLayout& layout,
                                                           int num_nodes,
                                                           int ranks_per_node,
                                                           int64_t row_bytes);

// Leader: [gather to local rank 0, exchange among leaders, scatter from the leader].
std::vector<TrafficCounters> leader_exchange_messages(const AllToAllLayout& layout,
                                                      int num_nodes,
                                                      int ranks_per_node,
                                                      int64_t row_bytes);

}  // namespace switchyard::comm
