#include "comm/topology.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "comm/comm_error.h"
#include "comm/mpi/mpi_checks.h"
#include "core/errors.h"

namespace switchyard::comm {

bool Topology::is_uniform_and_contiguous() const {
  if (world_size % num_nodes != 0) return false;
  const int g = world_size / num_nodes;
  for (int r = 0; r < world_size; ++r) {
    if (node_of[r] != r / g || local_rank_of[r] != r % g) return false;
  }
  return true;
}

std::string Topology::to_string() const {
  std::ostringstream out;
  out << num_nodes << (num_nodes == 1 ? " node" : " nodes");
  if (world_size % num_nodes == 0) {
    out << " x " << world_size / num_nodes << " ranks";
  } else {
    out << " (uneven), " << world_size << " ranks";
  }
  if (emulated) out << " (emulated)";
  return out.str();
}

Topology make_topology_from_nodes(int world_rank, const std::vector<int>& node_of) {
  Topology t;
  t.world_rank = world_rank;
  t.world_size = static_cast<int>(node_of.size());
  t.node_of = node_of;
  t.local_rank_of.assign(node_of.size(), 0);
  std::map<int, int> next_local;  // node -> ranks seen so far
  for (int r = 0; r < t.world_size; ++r) t.local_rank_of[r] = next_local[node_of[r]]++;
  t.num_nodes = static_cast<int>(next_local.size());
  t.node_rank = node_of.at(world_rank);
  t.local_rank = t.local_rank_of[world_rank];
  t.local_size = next_local[t.node_rank];
  return t;
}

Topology make_emulated_topology(int world_rank, int world_size, int ranks_per_node) {
  if (ranks_per_node <= 0 || world_size % ranks_per_node != 0) {
    throw ConfigError("comm.ranks_per_node", std::to_string(ranks_per_node) +
                                                 " does not divide the world size " +
                                                 std::to_string(world_size));
  }
  std::vector<int> node_of(world_size);
  for (int r = 0; r < world_size; ++r) node_of[r] = r / ranks_per_node;
  Topology t = make_topology_from_nodes(world_rank, node_of);
  t.emulated = true;
  return t;
}

Topology detect_topology(MPI_Comm world, const TopologyOptions& options) {
  const CommErrorContext ctx{"mpi", "detect_topology", "world", -1, 0, -1};
  int rank = 0;
  int size = 1;
  SY_MPI_CHECK(MPI_Comm_rank(world, &rank), ctx);
  SY_MPI_CHECK(MPI_Comm_size(world, &size), ctx);
  if (options.ranks_per_node > 0) return make_emulated_topology(rank, size, options.ranks_per_node);
  // One communicator per shared-memory domain; its lowest world rank names the node.
  MPI_Comm shared = MPI_COMM_NULL;
  SY_MPI_CHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &shared), ctx);
  int lowest = rank;
  SY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, shared), ctx);
  SY_MPI_CHECK(MPI_Comm_free(&shared), ctx);
  std::vector<int> lowest_of(size);  // [world_size] lowest world rank of every rank's node
  SY_MPI_CHECK(MPI_Allgather(&lowest, 1, MPI_INT, lowest_of.data(), 1, MPI_INT, world), ctx);
  std::vector<int> leaders = lowest_of;
  std::sort(leaders.begin(), leaders.end());
  leaders.erase(std::unique(leaders.begin(), leaders.end()), leaders.end());
  std::vector<int> node_of(size);
  for (int r = 0; r < size; ++r) {
    node_of[r] = static_cast<int>(std::lower_bound(leaders.begin(), leaders.end(), lowest_of[r]) -
                                  leaders.begin());
  }
  return make_topology_from_nodes(rank, node_of);
}

}  // namespace switchyard::comm
