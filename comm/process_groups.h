// File: comm/process_groups.h
//
// ProcessGroups: the communicators a MoE run needs, built once at start-up and passed explicitly.
//
// With W world ranks and expert-parallel size P (P divides W), expert-parallel groups are blocks
// of P consecutive world ranks: EP group e = world ranks [e*P, (e+1)*P), EP rank = world % P.
//   world             all ranks
//   expert            this rank's EP group (the all-to-all runs here)
//   expert_data       ranks holding the same experts: equal EP rank, one per EP group (gradient
//                     all-reduce of expert parameters)
//   intra_node        ranks on this rank's node
//   inter_node        ranks with this rank's local index, one per node
//   expert_intra_node / expert_inter_node: the same two restricted to the EP group; used by the
//                     hierarchical and leader all-to-all. Their sizes are G_ep and N_ep with
//                     P = N_ep * G_ep when the EP group is node-contiguous.
//   host_world, host_expert: the world and the EP group for the small host-value collectives
//                     (comm/host_collectives.h). The same communicators as world / expert when
//                     those accept CPU tensors (MPI); MPI twins of them beside a device backend.
//
// Building is collective over `world` (a fixed sequence of split() calls). Communicators are
// shared: copies of ProcessGroups share them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/topology.h"

namespace switchyard::comm {

struct ProcessGroups {
  Topology topology;
  int expert_parallel_size = 1;

  std::shared_ptr<Communicator> world;
  std::shared_ptr<Communicator> expert;
  std::shared_ptr<Communicator> expert_data;
  std::shared_ptr<Communicator> intra_node;
  std::shared_ptr<Communicator> inter_node;
  std::shared_ptr<Communicator> expert_intra_node;
  std::shared_ptr<Communicator> expert_inter_node;
  std::shared_ptr<Communicator> host_world;
  std::shared_ptr<Communicator> host_expert;

  std::vector<int> expert_world_ranks;  // [P] world rank of every EP rank of this group
  std::vector<int> expert_node_of;      // [P] node index of every EP rank of this group

  // True when the EP group is a set of whole, equally sized, consecutive nodes, or lies within
  // one node: the condition of the hierarchical and leader all-to-all.
  bool expert_is_node_contiguous = false;
  int expert_ranks_per_node = 1;  // G_ep (valid when expert_is_node_contiguous)
  int expert_num_nodes = 1;       // N_ep (valid when expert_is_node_contiguous)
};

// Collective over `world` (and `host_world`). expert_parallel_size must divide world->size()
// (ConfigError "parallel.expert_parallel_size" otherwise). `topology` must describe `world`.
// host_world: a CPU-capable communicator over the same ranks in the same order; null = `world`
// itself, which must then be an MPI communicator.
ProcessGroups build_process_groups(const std::shared_ptr<Communicator>& world,
                                   const Topology& topology,
                                   int expert_parallel_size,
                                   std::shared_ptr<Communicator> host_world = nullptr);

}  // namespace switchyard::comm
