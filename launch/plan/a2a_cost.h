// File: launch/plan/a2a_cost.h
//
// The token exchange of one MoE layer, priced alpha-beta over the messages each algorithm
// really sends. The expected count matrix of an exchange (rows per (source, destination) EP
// rank, in bytes so fractional rows stay exact) becomes a comm::AllToAllLayout, and the
// messages of every rank of one node come from the comm layer's own functions
// (comm/a2a/exchange_messages.h) — the same code the strategies' traffic counters use.
// Phases are priced by link_cost.h and added (each phase waits for the previous).
//
// Expected counts: a rank sends `rows` rows of `row_bytes`; a fraction f of them to other nodes
// (uniform routing: f = (P - G) / P), spread evenly over the destinations:
//   cnt[s][d] = rows x row_bytes x (1 - f) / G        d on the node of s (itself included)
//   cnt[s][d] = rows x row_bytes x f / (P - G)        d on another node
// Node-deduplicated exchange (docs/dedup.md): phase A over the N ranks with one local index (a
// row per token and destination node, with 2 E_node float32 of metadata), phase B over the G
// ranks of the node (a row per token and destination rank, 2 L floats); both flat exchanges.
// With uniform top-k, p_node = 1 - C(E - E_node, k) / C(E, k) of the tokens go to a given node
// and p_rank = 1 - C(E - L, k) / C(E, k) to a given rank.
#pragma once

#include <string>
#include <vector>

#include "comm/traffic.h"
#include "launch/plan/cluster.pb.h"
#include "launch/plan/link_cost.h"
#include "launch/plan/model_shape.h"

namespace switchyard::plan {

enum class A2aAlgorithm { kFlat, kHierarchical, kLeader, kHierarchicalDedup };
std::string a2a_name(A2aAlgorithm algorithm);

// Whether `algorithm` can run on the layout's EP group (two-level ones need a node-contiguous
// group; dedup needs N >= 2 nodes of G >= 2 ranks).
bool a2a_applies(A2aAlgorithm algorithm, const Layout& layout);

struct ExchangeCost {
  CommTime time;  // one exchange (all phases)
  // Per phase, the messages of EP rank 0 and the sum over the ranks of node 0 (what a test
  // compares with the strategies' counters).
  std::vector<comm::TrafficCounters> rank0_phases;
  comm::TrafficCounters rank0_total;
};

// One exchange of `rows` rows per rank of `row_bytes` each (dispatch; the combine is its
// transpose and costs the same under the symmetric expected layout).
ExchangeCost exchange_cost(const ClusterSpec& cluster,
                           const Layout& layout,
                           A2aAlgorithm algorithm,
                           double rows,
                           double row_bytes,
                           double inter_node_fraction);

// Uniform top-k: probability that a token has >= 1 of its k experts among `group` of E.
double prob_any_in_group(int64_t experts, int64_t group, int64_t top_k);

struct MoeLayerComm {
  CommTime a2a;             // the 4 exchanges of a layer-step (dispatch, combine, both in backward)
  CommTime count_exchange;  // the per-layer-step all-gather of expert counts
  ExchangeCost dispatch;    // one dispatch exchange (dedup: phases A, B)
  double inter_bytes_per_rank = 0;  // inter-node payload bytes per rank and layer-step
};

// The communication of one MoE layer in one step (forward + backward) at rows = tokens x k x
// kept fraction per rank.
MoeLayerComm moe_layer_comm(const ClusterSpec& cluster,
                            const Layout& layout,
                            const ModelShape& model,
                            A2aAlgorithm algorithm);

}  // namespace switchyard::plan
