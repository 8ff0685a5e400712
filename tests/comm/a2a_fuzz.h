// The all-to-all equivalence fuzz shared by the comm MPI tests (emulated topologies) and the
// emulated-cluster tests (real hosts): flat, hierarchical, leader and inter-first strategies
// against the gathered single-process reference, bit-exact, over seeded random layouts.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "comm/all_to_all.h"
#include "comm/process_groups.h"
#include "comm/topology.h"

namespace switchyard::comm::testing {

struct Strategies {
  ProcessGroups groups;
  std::vector<std::shared_ptr<AllToAll>> all;  // flat, hierarchical, leader, inter-first
};

// Process groups of `topology` with EP size `ep_size` and the three strategies over them.
Strategies make_strategies(const std::shared_ptr<Communicator>& world,
                           const Topology& topology,
                           int ep_size);

// Runs `num_layouts` random layouts (7 patterns, every dtype, hidden from `hiddens`, collective
// and local layouts) through every strategy and the reference; checks bit-exact equality, that the
// input is untouched and that the transposed exchange brings the input back (gtest assertions).
void fuzz(Strategies& s, int num_layouts, uint64_t seed, const std::vector<int64_t>& hiddens);

}  // namespace switchyard::comm::testing
