// File: models/moe/routers/smile_balance.h
//
// SMILE (arXiv 2212.05191; ALGORITHMS.md §4) statistics that are counted where the tokens arrive:
//
//   * Local-level balance loss per destination node. The local router's choice b_t only matters
//     inside node a_t, so the statistics are taken per (routing group g, destination node a) over
//     the tokens of g sent to a, and weighted by their share T_ga / T_g:
//         L_loc,g = sum_a (T_ga / T_g) * M * sum_b f_gab P_gab
//     (f_gab = share of those tokens choosing local expert b, no gradient; P_gab = their mean
//     r_tb). 1 under uniform routing; a node whose tokens all pick one of its experts reads M,
//     even when other nodes pick other experts (pooling all nodes would read balanced).
//   * Receiver-side level-2 capacity: after the source's level-1 capacity, expert (a, b) takes
//     C_a = ceil(cf * T_a / M) tokens, T_a = the tokens node a receives from every routing group
//     of the step (all source ranks; one all-gather), in arrival order (source rank, then
//     position).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::comm {
class Communicator;
}  // namespace switchyard::comm

namespace switchyard::models {

// r: [T, M] local-router probabilities of the chosen node; node, local: [T] int64 choices.
// Averaged over the non-empty routing groups.
at::Tensor smile_local_balance_loss(const at::Tensor& r,
                                    const at::Tensor& node,
                                    const at::Tensor& local,
                                    int64_t num_nodes,
                                    const std::vector<int64_t>& group_sizes);

// [T] bool: level 1 per source group (position priority, ceil(cf T_g / N) per node), then the
// receiver-side level 2 above. Collective over `count_group` (null: this call's groups are the
// whole step).
at::Tensor smile_receiver_capacity_keep(const at::Tensor& node,
                                        const at::Tensor& local,
                                        int64_t num_nodes,
                                        int64_t experts_per_node,
                                        double capacity_factor,
                                        const std::vector<int64_t>& group_sizes,
                                        comm::Communicator* count_group,
                                        int64_t* dropped_level1,
                                        int64_t* dropped_level2);

}  // namespace switchyard::models
