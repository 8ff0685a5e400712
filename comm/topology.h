// File: comm/topology.h
//
// Topology: where every world rank runs (node index, index within the node).
//
// Detection (detect_topology) uses MPI_Comm_split_type(MPI_COMM_TYPE_SHARED): one node per
// shared-memory domain, nodes numbered by their lowest world rank. TopologyOptions.ranks_per_node
// > 0 overrides detection and emulates nodes of consecutive world ranks (node = rank / G), so that
// N nodes x G ranks can be tested on one host (CommConfig.ranks_per_node).
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

namespace switchyard::comm {

struct TopologyOptions {
  // 0: detect from MPI's shared-memory split. > 0: emulate nodes of this many consecutive ranks;
  // must divide the world size.
  int ranks_per_node = 0;
};

struct Topology {
  int world_rank = 0;
  int world_size = 1;
  int local_rank = 0;  // index within the node
  int local_size = 1;  // ranks on this rank's node
  int node_rank = 0;   // index of this rank's node
  int num_nodes = 1;
  bool emulated = false;           // built from ranks_per_node rather than detected
  std::vector<int> node_of;        // [world_size] node index of every world rank
  std::vector<int> local_rank_of;  // [world_size] index within its node of every world rank

  bool same_node(int world_rank_a, int world_rank_b) const {
    return node_of[world_rank_a] == node_of[world_rank_b];
  }
  // Every node has the same number of ranks and holds consecutive world ranks.
  bool is_uniform_and_contiguous() const;
  // "2 nodes x 4 ranks (emulated)".
  std::string to_string() const;
};

// Pure: the emulated topology of `world_size` ranks in nodes of `ranks_per_node` consecutive
// ranks. Throws ConfigError("comm.ranks_per_node", ...) if it does not divide world_size.
Topology make_emulated_topology(int world_rank, int world_size, int ranks_per_node);

// Pure: a topology from every rank's node index (ranks of a node keep world-rank order).
Topology make_topology_from_nodes(int world_rank, const std::vector<int>& node_of);

// Collective over `world` (normally MPI_COMM_WORLD): detects or emulates the topology.
Topology detect_topology(MPI_Comm world, const TopologyOptions& options = {});

}  // namespace switchyard::comm
