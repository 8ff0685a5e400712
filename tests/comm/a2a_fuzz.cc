#include "tests/comm/a2a_fuzz.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm::testing {

namespace {
const at::ScalarType kDtypes[] = {at::kFloat, at::kBFloat16, at::kDouble, at::kLong, at::kInt};
}  // namespace

Strategies make_strategies(const std::shared_ptr<Communicator>& world,
                           const Topology& topology,
                           int ep_size) {
  Strategies s;
  s.groups = build_process_groups(world, topology, ep_size);
  for (auto algo : {AllToAllAlgorithm::kFlat, AllToAllAlgorithm::kHierarchical,
                    AllToAllAlgorithm::kLeader, AllToAllAlgorithm::kInterFirst}) {
    s.all.push_back(make_all_to_all(algo, s.groups));
  }
  return s;
}

void fuzz(Strategies& s, int num_layouts, uint64_t seed, const std::vector<int64_t>& hiddens) {
  Communicator& ep = *s.groups.expert;
  const int P = ep.size();
  std::mt19937_64 rng(seed);  // same sequence on every rank: the matrix is shared
  for (int it = 0; it < num_layouts; ++it) {
    const int pattern = static_cast<int>(rng() % 7);
    const std::vector<int64_t> matrix = random_count_matrix(rng, P, pattern);
    const int64_t hidden = hiddens[rng() % hiddens.size()];
    const at::ScalarType dtype = kDtypes[rng() % 5];
    const bool collective_layout = rng() % 2 == 0;
    std::vector<int64_t> send(matrix.begin() + static_cast<int64_t>(ep.rank()) * P,
                              matrix.begin() + static_cast<int64_t>(ep.rank() + 1) * P);
    const AllToAllLayout layout = collective_layout
                                      ? AllToAllLayout::exchange_counts(ep, send)
                                      : AllToAllLayout::from_count_matrix(ep.rank(), P, matrix);
    ASSERT_EQ(layout.count_matrix(), matrix);
    int64_t rows = 0;
    for (int64_t c : send) rows += c;
    const at::Tensor input =  // [rows, hidden] grouped by destination
        make_input(rows, hidden, dtype, seed * 1000003 + it * 131 + s.groups.topology.world_rank);
    const at::Tensor input_copy = input.clone();
    const at::Tensor expected = reference_all_to_all(raw(ep), input, matrix);
    for (auto& a2a : s.all) {
      const at::Tensor out = a2a->exchange(input, layout);  // [sum_src cnt[src][me], hidden]
      ASSERT_TRUE(bitwise_equal(out, expected))
          << a2a->name() << " differs from the reference: layout " << it << " pattern " << pattern
          << " hidden " << hidden << " dtype " << dtype << " topology "
          << s.groups.topology.to_string() << " ep " << P << " out " << out.sizes() << " expected "
          << expected.sizes();
      ASSERT_TRUE(bitwise_equal(input, input_copy)) << a2a->name() << " modified its input";
      // Round trip: the transposed exchange brings the input back.
      const at::Tensor back = a2a->exchange(out, layout.transposed());
      ASSERT_TRUE(bitwise_equal(back, input)) << a2a->name() << " round trip, layout " << it;
    }
  }
}

}  // namespace switchyard::comm::testing
