// Distributed == single process (mpi, 4 ranks) for the DPSL loss (Mirvakhabova et al., arXiv
// 2510.01185) and the StableMoE router (Dai et al., arXiv 2204.08396): the MoE layer with expert
// parallelism 4 (one routing group per rank) gives the same aux losses, routing, outputs and
// gradients as the same layer in one process on the concatenation of the ranks' tokens with one
// routing group per rank (expert-parallel size 1).
#include <mpi.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/a2a/make_all_to_all.h"
#include "comm/mpi/mpi_communicator.h"
#include "comm/process_groups.h"
#include "comm/topology.h"
#include "models/moe/moe_builder.h"
#include "models/moe/token_shuffle.h"
#include "tests/models/moe_mpi_test_util.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::world_size;

using testing::make_tokens;
using testing::relative_error;

constexpr double kTolerance = 1e-6;

struct Case {
  std::string name;
  MoEBuildOptions options;
  int ep = 4;
  int64_t step = 2;
  std::vector<int64_t> rows = {16, 16, 16, 16};  // tokens of each rank
  int64_t seq = 4;                               // tokens per sequence (token ids [B, S])
};

// First row of each rank's tokens in the rank-ordered concatenation ([W + 1]).
std::vector<int64_t> offsets_of(const std::vector<int64_t>& rows) {
  std::vector<int64_t> offsets(rows.size() + 1, 0);
  for (size_t r = 0; r < rows.size(); ++r) offsets[r + 1] = offsets[r] + rows[r];
  return offsets;
}

// Tokens each rank routes after the token shuffle (token_shuffle.h's layout).
std::vector<int64_t> shuffled_rows(const std::vector<int64_t>& rows) {
  std::vector<int64_t> out(rows.size(), 0);
  for (int64_t t : rows) {
    const std::vector<int64_t> chunks = shuffle_chunk_sizes(t, static_cast<int>(rows.size()));
    for (size_t r = 0; r < rows.size(); ++r) out[r] += chunks[r];
  }
  return out;
}

void run_case(const Case& c) {
  SCOPED_TRACE(c.name);
  auto world = comm::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int size = world->size();
  const int rank = world->rank();
  const comm::ProcessGroups groups =
      comm::build_process_groups(world, comm::make_emulated_topology(rank, size, size), c.ep);
  auto all_to_all = comm::make_all_to_all(comm::AllToAllAlgorithm::kFlat, groups);
  ASSERT_EQ(c.rows.size(), static_cast<size_t>(size));
  const std::vector<int64_t> offsets = offsets_of(c.rows);
  const int64_t per_rank = c.rows[static_cast<size_t>(rank)];
  const int64_t seq = c.seq;
  const int64_t total = offsets.back();
  const int64_t hidden = c.options.layer.hidden_size;
  const int64_t offset = offsets[static_cast<size_t>(rank)];
  // Where this rank's routed tokens sit in the reference's routing order.
  const std::vector<int64_t> routed_offsets =
      offsets_of(c.options.layer.shuffle_tokens ? shuffled_rows(c.rows) : c.rows);
  const int64_t routed_offset = routed_offsets[static_cast<size_t>(rank)];
  const int64_t routed_rows = routed_offsets[static_cast<size_t>(rank) + 1] - routed_offset;
  at::Tensor x = make_tokens(total, hidden, 31);  // identical on every rank
  at::Tensor g = make_tokens(total, hidden, 32);
  at::Tensor ids = at::arange(total, at::kLong).mul(7).remainder(c.options.router.vocab_size);

  AuxLossCollector aux;
  MoELayer layer = build_moe_layer(c.options, MoEParallel{groups.expert, all_to_all, world}, &aux);
  MoEForwardArgs args;
  args.step = c.step;
  args.token_ids = ids.narrow(0, offset, per_rank).view({-1, seq});  // [B, S] local
  MoEOutput out = layer->forward(x.narrow(0, offset, per_rank), args);
  ((out.output * g.narrow(0, offset, per_rank)).sum() + aux.weighted_sum()).backward();
  for (auto& item : layer->named_parameters()) {
    at::Tensor grad = item.value().grad();
    if (!grad.defined()) continue;
    const bool expert = item.key().rfind("experts.", 0) == 0;
    comm::Communicator& group = expert ? *groups.expert_data : *groups.world;
    if (group.size() > 1) group.all_reduce(grad)->wait();
  }

  AuxLossCollector ref_aux;
  MoELayer ref = build_moe_layer(c.options, MoEParallel{}, &ref_aux);
  MoEForwardArgs ref_args;
  ref_args.step = c.step;
  ref_args.group_sizes = c.rows;
  ref_args.token_ids = ids.view({-1, seq});
  MoEOutput ref_out = ref->forward(x, ref_args);
  // Each rank's aux losses are averaged over its own group; the reference averages over the
  // groups, so its aux gradient is scaled by the number of groups to match the summed ranks.
  ((ref_out.output * g).sum() + ref_aux.weighted_sum() * static_cast<double>(size)).backward();

  // Aux losses: the mean over ranks equals the reference's mean over groups.
  ASSERT_EQ(aux.entries().size(), ref_aux.entries().size());
  // StableMoE's stage 2 has no losses of its own.
  const bool stage2 =
      c.options.router.kind == "stablemoe" && c.step >= c.options.router.stablemoe.stage2_step;
  ASSERT_EQ(aux.entries().empty(), stage2 && c.options.layer.aux.dpsl_coeff == 0);
  for (size_t i = 0; i < aux.entries().size(); ++i) {
    at::Tensor v = aux.entries()[i].value.detach().to(at::kDouble).reshape({1});  // [1]
    world->all_reduce(v)->wait();
    EXPECT_NEAR(v.item<double>() / size, ref_aux.entries()[i].value.item<double>(), 1e-6)
        << aux.entries()[i].name;
  }
  // Routing of the (shuffled) tokens this rank routed: the same tokens in the same order.
  EXPECT_TRUE(at::equal(layer->last_routing().expert_ids,
                        ref->last_routing().expert_ids.narrow(0, routed_offset, routed_rows)));
  EXPECT_LT(relative_error(layer->last_routing().logits,
                           ref->last_routing().logits.narrow(0, routed_offset, routed_rows)),
            kTolerance);
  EXPECT_LT(relative_error(out.output, ref_out.output.narrow(0, offset, per_rank)), kTolerance);
  auto ref_params = ref->named_parameters();
  const int64_t local = c.options.layer.num_experts / c.ep;
  const int64_t first = groups.expert->rank() * local;
  for (auto& item : layer->named_parameters()) {
    at::Tensor expected = ref_params[item.key()].grad();
    at::Tensor got = item.value().grad();
    ASSERT_EQ(got.defined(), expected.defined()) << item.key();
    if (!got.defined()) continue;
    if (item.key().rfind("experts.", 0) == 0) expected = expected.narrow(0, first, local);
    EXPECT_LT(relative_error(got, expected), kTolerance) << item.key();
  }
}

MoEBuildOptions base(const std::string& router) {
  testing::LayerSpec spec;
  spec.router = router;
  spec.experts = 8;
  spec.top_k = router == "stablemoe" ? 1 : 2;
  spec.lb_coeff = 0.0;
  spec.z_coeff = 0.0;
  MoEBuildOptions o = testing::build_options(spec);
  o.router.vocab_size = 23;
  o.router.stablemoe.stage2_step = 10;
  o.router.stablemoe.distilled_dim = 5;
  return o;
}

TEST(DpslEquivalence, ExpertParallelFourEqualsOneProcess) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  for (const std::string router : {"top_k", "expert_choice"}) {
    for (double cf : {0.0, 1.0}) {
      Case c;
      c.name = "dpsl " + router + (cf > 0 ? " capacity" : " dropless");
      c.options = base(router);
      c.options.layer.capacity.capacity_factor = cf;
      c.options.layer.aux.dpsl_coeff = 0.7;
      c.options.layer.aux.dpsl_prior.alpha = {0.5, 0.75, 1.0, 1.25, 0.5, 0.75, 1.0, 1.25};
      run_case(c);
    }
  }
  Case sym;
  sym.name = "dpsl symmetric with z-loss";
  sym.options = base("top_k");
  sym.options.layer.aux.z_loss_coeff = 0.01;
  sym.options.layer.aux.dpsl_coeff = 1.0;
  sym.options.layer.aux.dpsl_prior.alpha = {0.75};
  run_case(sym);
}

TEST(StableMoEEquivalence, ExpertParallelFourEqualsOneProcessInBothStages) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  for (int64_t step : {2, 10}) {
    for (double cf : {0.0, 2.0}) {
      Case c;
      c.name = "stablemoe step " + std::to_string(step) + (cf > 0 ? " capacity" : " dropless");
      c.options = base("stablemoe");
      c.options.layer.capacity.capacity_factor = cf;
      c.options.layer.aux.dpsl_coeff = step == 2 ? 0.5 : 0.0;  // DPSL on the sigmoid scores
      c.step = step;
      run_case(c);
    }
  }
  Case bigram;
  bigram.name = "stablemoe bigram";
  bigram.options = base("stablemoe");
  bigram.options.router.stablemoe.bigram = true;
  run_case(bigram);
}

// StableMoE's training-time token shuffle (ALGORITHMS.md §1.2): EP-4 with unequal token counts
// per rank routes the same shuffled tokens as the single-process reference of the four ranks,
// and outputs (unshuffled) and gradients agree, in both stages and with the bigram router.
TEST(StableMoEEquivalence, TokenShuffleExpertParallelFourEqualsOneProcess) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  for (int64_t step : {2, 10}) {
    for (bool bigram : {false, true}) {
      for (double cf : {0.0, 1.5}) {
        Case c;
        c.name = "shuffle step " + std::to_string(step) + (bigram ? " bigram" : " wordemb") +
                 (cf > 0 ? " capacity" : " dropless");
        c.options = base("stablemoe");
        c.options.layer.shuffle_tokens = true;
        c.options.router.stablemoe.bigram = bigram;
        c.options.layer.capacity.capacity_factor = cf;
        c.step = step;
        c.rows = {6, 10, 14, 18};  // shuffled: 14, 14, 10, 10
        c.seq = 2;
        run_case(c);
      }
    }
  }
}

}  // namespace
}  // namespace switchyard::models
