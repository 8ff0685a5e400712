#include "comm/a2a/make_all_to_all.h"

#include <numeric>
#include <string>
#include <vector>

#include "comm/a2a/flat_all_to_all.h"
#include "comm/a2a/hierarchical_all_to_all.h"
#include "comm/a2a/inter_first_all_to_all.h"
#include "comm/a2a/leader_all_to_all.h"
#include "core/errors.h"

namespace switchyard::comm {

std::shared_ptr<AllToAll> make_all_to_all(AllToAllAlgorithm algorithm,
                                          const ProcessGroups& groups,
                                          const AllToAllStrategyOptions& options) {
  if (algorithm == AllToAllAlgorithm::kFlat) {
    return std::make_shared<FlatAllToAll>(groups.expert, groups.expert_node_of, options);
  }
  if (!groups.expert_is_node_contiguous) {
    throw ConfigError("comm.all_to_all",
                      std::string(algorithm_name(algorithm)) +
                          " needs expert-parallel groups made of whole, equal, consecutive nodes "
                          "(topology " +
                          groups.topology.to_string() + ", expert_parallel_size " +
                          std::to_string(groups.expert_parallel_size) + ")");
  }
  if (algorithm == AllToAllAlgorithm::kHierarchical) {
    return std::make_shared<HierarchicalAllToAll>(groups.expert, groups.expert_intra_node,
                                                  groups.expert_inter_node, options);
  }
  if (algorithm == AllToAllAlgorithm::kInterFirst) {
    return std::make_shared<InterFirstAllToAll>(groups.expert, groups.expert_intra_node,
                                                groups.expert_inter_node, options);
  }
  return std::make_shared<LeaderAllToAll>(groups.expert, groups.expert_intra_node,
                                          groups.expert_inter_node, options);
}

bool node_dedup_applies(const ProcessGroups& groups) {
  return groups.expert_parallel_size > 1 && groups.expert_is_node_contiguous &&
         groups.expert_num_nodes >= 2 && groups.expert_ranks_per_node >= 2;
}

NodePhaseAllToAlls make_node_phase_all_to_alls(const ProcessGroups& groups,
                                               const AllToAllStrategyOptions& options) {
  NodePhaseAllToAlls out;
  if (!node_dedup_applies(groups)) return out;
  // Node index of each member: inter-node members are one per node; intra-node all on one.
  std::vector<int> inter_nodes(static_cast<size_t>(groups.expert_inter_node->size()));
  std::iota(inter_nodes.begin(), inter_nodes.end(), 0);
  const std::vector<int> intra_nodes(static_cast<size_t>(groups.expert_intra_node->size()), 0);
  out.inter_node = std::make_shared<FlatAllToAll>(groups.expert_inter_node, inter_nodes, options);
  out.intra_node = std::make_shared<FlatAllToAll>(groups.expert_intra_node, intra_nodes, options);
  return out;
}

}  // namespace switchyard::comm
