#include "comm/a2a/make_all_to_all.h"

#include <string>

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

}  // namespace switchyard::comm
