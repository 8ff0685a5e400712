// All-to-all across emulated hosts (run by tests/cluster/run_on_cluster.sh under the cluster's
// mpirun, see docs/cluster.md): every host is a network namespace with its own hostname, ranks of
// one host share memory, hosts talk TCP over the data NIC "data0".
//   - detect_topology with no ranks-per-node override finds exactly the hosts (one node per
//     hostname) from MPI's shared-memory split;
//   - flat == hierarchical == leader == the gathered single-process reference, bit-exact, on that
//     detected topology (the comm tests' fuzz);
//   - the inter-node bytes Switchyard counts equal what the data NICs' kernel counters saw, up to
//     the TCP/IP header overhead, and intra-node traffic does not touch any NIC (shared memory).
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/topology.h"
#include "tests/comm/a2a_fuzz.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

// The harness names every host's data NIC "data0" (tests/cluster/cluster.sh).
constexpr const char* kDataNic = "data0";

std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, len);
}

// [world_size] hostname of every world rank.
std::vector<std::string> all_hostnames() {
  const std::string mine = processor_name();
  std::vector<char> buf(MPI_MAX_PROCESSOR_NAME, 0);
  std::copy(mine.begin(), mine.end(), buf.begin());
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<char> all(static_cast<size_t>(size) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(buf.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME,
                MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> names;
  for (int r = 0; r < size; ++r)
    names.emplace_back(&all[static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME]);
  return names;
}

int64_t nic_counter(const std::string& nic, const std::string& counter) {
  std::ifstream in("/sys/class/net/" + nic + "/statistics/" + counter);
  int64_t v = -1;
  in >> v;
  return v;
}

TEST(ClusterTopology, DetectedNodesAreTheHosts) {
  const std::vector<std::string> hosts = all_hostnames();
  const std::set<std::string> distinct(hosts.begin(), hosts.end());
  ASSERT_GE(distinct.size(), 2u) << "all ranks run on one host '" << hosts[0]
                                 << "': not an emulated cluster";
  const Topology topo = detect_topology(MPI_COMM_WORLD);  // no ranks_per_node override
  EXPECT_FALSE(topo.emulated);
  EXPECT_EQ(topo.num_nodes, static_cast<int>(distinct.size())) << topo.to_string();
  for (int a = 0; a < topo.world_size; ++a) {
    for (int b = 0; b < topo.world_size; ++b) {
      EXPECT_EQ(topo.same_node(a, b), hosts[a] == hosts[b])
          << "ranks " << a << " (" << hosts[a] << ") and " << b << " (" << hosts[b] << ")";
    }
  }
  EXPECT_TRUE(topo.is_uniform_and_contiguous()) << topo.to_string();
  if (topo.world_rank == 0) std::printf("detected topology: %s\n", topo.to_string().c_str());
}

TEST(ClusterAllToAll, FlatEqualsHierarchicalEqualsReferenceAcrossHosts) {
  auto world = testing::test_world();
  const Topology topo = detect_topology(MPI_COMM_WORLD);
  ASSERT_GE(topo.num_nodes, 2);
  // EP over every host (hierarchical runs shared memory + TCP), then EP inside one host.
  for (int ep : {topo.world_size, topo.local_size}) {
    SCOPED_TRACE("expert-parallel size " + std::to_string(ep));
    testing::Strategies s = testing::make_strategies(world, topo, ep);
    ASSERT_TRUE(s.groups.expert_is_node_contiguous);
    EXPECT_EQ(s.groups.expert_num_nodes, ep / topo.local_size);
    testing::fuzz(s, ep == topo.world_size ? 40 : 10, 60013 + ep, {1, 3, 8, 16, 1024});
  }
}

// K exchanges of a dense layout (`bytes_per_peer` to every rank): Switchyard's counted inter-node
// bytes (sum over ranks) vs the bytes all data NICs sent (sum over hosts), and loopback traffic.
struct WireCheck {
  int64_t counted_inter = 0, counted_intra = 0, inter_messages = 0;
  int64_t nic_tx = 0, lo_tx = 0;
};

WireCheck measure(AllToAll& a2a,
                  const ProcessGroups& groups,
                  int64_t rows_per_peer,
                  int64_t hidden,
                  int exchanges) {
  Communicator& ep = *groups.expert;
  const int P = ep.size();
  const AllToAllLayout layout =
      AllToAllLayout::from_count_matrix(ep.rank(), P, std::vector<int64_t>(P * P, rows_per_peer));
  const at::Tensor input =  // [P * rows_per_peer, hidden] grouped by destination
      testing::make_input(P * rows_per_peer, hidden, at::kFloat, 17 + ep.rank());
  a2a.exchange(input, layout);  // warm-up: connections are established outside the window
  const bool reader = groups.topology.local_rank == 0;
  MPI_Barrier(MPI_COMM_WORLD);
  const TrafficCounters before = a2a.traffic();
  const int64_t tx0 = reader ? nic_counter(kDataNic, "tx_bytes") : 0;
  const int64_t lo0 = reader ? nic_counter("lo", "tx_bytes") : 0;
  for (int i = 0; i < exchanges; ++i) {
    at::Tensor out = a2a.exchange(input, layout);  // [P * rows_per_peer, hidden]
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const TrafficCounters d = a2a.traffic() - before;
  int64_t local[5] = {d.inter_node_bytes, d.intra_node_bytes, d.inter_node_messages,
                      reader ? nic_counter(kDataNic, "tx_bytes") - tx0 : 0,
                      reader ? nic_counter("lo", "tx_bytes") - lo0 : 0};
  int64_t sum[5] = {};
  MPI_Allreduce(local, sum, 5, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  return {sum[0], sum[1], sum[2], sum[3], sum[4]};
}

TEST(ClusterTraffic, InterNodeBytesEqualDataNicBytes) {
  ASSERT_GE(nic_counter(kDataNic, "tx_bytes"), 0)
      << "/sys/class/net/" << kDataNic << " missing: not run by the cluster harness";
  auto world = testing::test_world();
  const Topology topo = detect_topology(MPI_COMM_WORLD);
  ASSERT_GE(topo.num_nodes, 2);
  const ProcessGroups groups = build_process_groups(world, topo, topo.world_size);
  const int64_t rows = 64, hidden = 256;  // 64 KiB of float32 per peer
  const int exchanges = 20;
  for (auto algo : {AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical}) {
    auto a2a = make_all_to_all(algo, groups);
    const WireCheck w = measure(*a2a, groups, rows, hidden, exchanges);
    // Expected payload: every rank sends S (N-1)/N inter-node per exchange (docs/comm.md §4.4).
    const int64_t S = topo.world_size * rows * hidden * 4;
    EXPECT_EQ(w.counted_inter,
              int64_t{exchanges} * topo.world_size * S * (topo.num_nodes - 1) / topo.num_nodes);
    // The NIC counts whole Ethernet frames: per TCP segment 14 (Ethernet) + 20 (IP) + 32 (TCP
    // with timestamps) = 66 header bytes for at most 9000 - 52 payload bytes (MTU 9000), i.e.
    // <= 0.75%, plus pure ACKs (66 bytes per one or two segments, <= 0.75%) and Open MPI's TCP
    // BTL fragment headers; 3% covers all of it. Fixed slack: the two barriers and the MPI
    // handshakes, 64 KiB per host.
    const double overhead = static_cast<double>(w.nic_tx - w.counted_inter) / w.counted_inter;
    if (topo.world_rank == 0) {
      std::printf(
          "%s: counted inter-node %lld B in %lld msgs, data NICs sent %lld B (+%.2f%%), "
          "counted intra-node %lld B, loopback %lld B\n",
          std::string(a2a->name()).c_str(), static_cast<long long>(w.counted_inter),
          static_cast<long long>(w.inter_messages), static_cast<long long>(w.nic_tx),
          overhead * 100, static_cast<long long>(w.counted_intra), static_cast<long long>(w.lo_tx));
    }
    EXPECT_GE(w.nic_tx, w.counted_inter) << a2a->name() << ": the wire saw less than the payload";
    EXPECT_LE(w.nic_tx, w.counted_inter * 1.03 + 65536.0 * topo.num_nodes)
        << a2a->name() << ": the wire saw more than payload + TCP/IP overhead";
    // Intra-node payload goes through shared memory: neither the NIC nor loopback carries it.
    if (w.counted_intra > 0) {
      EXPECT_LT(w.lo_tx, w.counted_intra / 100) << a2a->name() << ": intra-node traffic over TCP";
    }
  }
}

}  // namespace
}  // namespace switchyard::comm
