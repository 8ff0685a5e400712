#include "comm/process_groups.h"

#include <set>

#include "core/check.h"
#include "core/errors.h"

namespace switchyard::comm {

ProcessGroups build_process_groups(const std::shared_ptr<Communicator>& world,
                                   const Topology& topology,
                                   int expert_parallel_size,
                                   std::shared_ptr<Communicator> host_world) {
  SY_CHECK(world != nullptr) << "world communicator is null";
  const int world_size = world->size();
  const int world_rank = world->rank();
  SY_CHECK_EQ(topology.world_size, world_size) << "topology does not describe this world";
  SY_CHECK_EQ(topology.world_rank, world_rank) << "topology does not describe this rank";
  const int ep = expert_parallel_size;
  if (ep <= 0 || world_size % ep != 0) {
    throw ConfigError(
        "parallel.expert_parallel_size",
        std::to_string(ep) + " does not divide the world size " + std::to_string(world_size));
  }
  ProcessGroups g;
  g.topology = topology;
  g.expert_parallel_size = ep;
  g.world = world;
  const int ep_index = world_rank / ep;  // which EP group
  const int ep_rank = world_rank % ep;
  // Fixed order of splits: every rank runs the same sequence (collective over world).
  g.expert = world->split(ep_index, ep_rank, "expert");
  g.expert_data = world->split(ep_rank, world_rank, "expert_data");
  g.intra_node = world->split(topology.node_rank, world_rank, "intra_node");
  g.inter_node = world->split(topology.local_rank, world_rank, "inter_node");

  for (int p = 0; p < ep; ++p) {
    const int w = ep_index * ep + p;
    g.expert_world_ranks.push_back(w);
    g.expert_node_of.push_back(topology.node_of[w]);
  }
  // Node-contiguous: the EP group's nodes hold equally many consecutive EP ranks, and each of
  // these nodes lies entirely inside the group or the group lies inside one node.
  std::vector<int> per_node;  // EP ranks per node, in order of appearance
  std::set<int> seen;
  bool contiguous = true;
  for (int p = 0; p < ep; ++p) {
    const int node = g.expert_node_of[p];
    if (p == 0 || node != g.expert_node_of[p - 1]) {
      if (!seen.insert(node).second) contiguous = false;  // node appears twice
      per_node.push_back(0);
    }
    ++per_node.back();
  }
  for (int c : per_node) contiguous = contiguous && c == per_node.front();
  g.expert_is_node_contiguous = contiguous;
  g.expert_num_nodes = static_cast<int>(per_node.size());
  g.expert_ranks_per_node = contiguous ? per_node.front() : 1;

  // EP-restricted intra/inter-node groups (within the EP group: color by node, by local index).
  int local_in_ep = 0;  // index of this rank among the EP ranks of its node
  for (int p = 0; p < ep_rank; ++p) {
    if (g.expert_node_of[p] == topology.node_rank) ++local_in_ep;
  }
  const int color_intra = ep_index * world_size + topology.node_rank;
  const int color_inter = ep_index * world_size + local_in_ep;
  g.expert_intra_node = world->split(color_intra, world_rank, "expert_intra_node");
  g.expert_inter_node = world->split(color_inter, world_rank, "expert_inter_node");

  if (host_world == nullptr || host_world == world) {
    SY_CHECK(world->backend_name() == "mpi")
        << "a " << world->backend_name() << " world needs an MPI host communicator beside it";
    g.host_world = world;
    g.host_expert = g.expert;
  } else {
    SY_CHECK(host_world->size() == world_size && host_world->rank() == world_rank)
        << "the host communicator must span the world in the same rank order";
    g.host_world = host_world;
    g.host_expert = host_world->split(ep_index, ep_rank, "expert");
  }
  return g;
}

}  // namespace switchyard::comm
