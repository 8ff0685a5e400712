// The training-time token shuffle (models/moe/token_shuffle.h; ALGORITHMS.md §1.2 and §1.8 item
// 10) in one process: its layout against a hand-built reference, shuffle + unshuffle = identity
// (values and gradients), and a StableMoE layer whose per-token routing makes the shuffle
// invisible in the output (bigram features included: predecessors are taken before the shuffle).
#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/moe/moe_builder.h"
#include "models/moe/token_shuffle.h"
#include "tests/models/moe_test_util.h"

namespace switchyard::models {
namespace {

using testing::make_tokens;
using testing::relative_error;

TEST(TokenShuffle, ChunksAreNearEqualAndCoverTheRows) {
  EXPECT_EQ(shuffle_chunk_sizes(10, 4), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(shuffle_chunk_sizes(8, 4), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(shuffle_chunk_sizes(2, 4), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(shuffle_chunk_sizes(0, 3), (std::vector<int64_t>{0, 0, 0}));
}

TEST(TokenShuffle, PermutationIsSeededPerWorker) {
  at::Tensor a = shuffle_permutation(50, 7, 0);
  EXPECT_TRUE(at::equal(a, shuffle_permutation(50, 7, 0)));
  EXPECT_FALSE(at::equal(a, shuffle_permutation(50, 7, 1)));
  EXPECT_FALSE(at::equal(a, shuffle_permutation(50, 8, 0)));
  EXPECT_TRUE(at::equal(std::get<0>(at::sort(a)), at::arange(50, at::kLong)));
}

TEST(TokenShuffle, ReferenceLayoutSendsChunkROfEveryWorkerToWorkerR) {
  const std::vector<int64_t> groups = {6, 10, 14, 18};
  const uint64_t seed = 99;
  TokenShuffle shuffle;
  ShuffleHandle h = shuffle.plan(48, groups, seed);
  EXPECT_EQ(h.shuffled_group_sizes, (std::vector<int64_t>{14, 14, 10, 10}));

  // Hand-built: for each destination r, for each worker w, chunk r of w's permuted rows.
  std::vector<int64_t> expected;
  for (int r = 0; r < 4; ++r) {
    int64_t offset = 0;
    for (int w = 0; w < 4; ++w) {
      const int64_t t = groups[static_cast<size_t>(w)];
      at::Tensor perm = shuffle_permutation(t, seed, w);
      const std::vector<int64_t> chunks = shuffle_chunk_sizes(t, 4);
      const int64_t begin = std::accumulate(chunks.begin(), chunks.begin() + r, int64_t{0});
      for (int64_t i = 0; i < chunks[static_cast<size_t>(r)]; ++i) {
        expected.push_back(offset + perm[begin + i].item<int64_t>());
      }
      offset += t;
    }
  }
  at::Tensor got = h.send_order;
  ASSERT_EQ(got.numel(), 48);
  for (int64_t i = 0; i < 48; ++i) EXPECT_EQ(got[i].item<int64_t>(), expected[i]) << i;

  // Every new group holds tokens of every old group (the shuffle mixes the ranks).
  int64_t start = 0;
  for (int64_t size : h.shuffled_group_sizes) {
    std::set<int64_t> sources;
    for (int64_t i = start; i < start + size; ++i) {
      const int64_t row = got[i].item<int64_t>();
      sources.insert(row < 6 ? 0 : row < 16 ? 1 : row < 30 ? 2 : 3);
    }
    EXPECT_EQ(sources.size(), 4u);
    start += size;
  }
}

TEST(TokenShuffle, ShuffleThenUnshuffleIsTheIdentityWithIdentityGradient) {
  TokenShuffle shuffle;
  for (const std::vector<int64_t>& groups :
       {std::vector<int64_t>{}, std::vector<int64_t>{5, 7, 4}, std::vector<int64_t>{16}}) {
    const int64_t rows = 16;
    ShuffleHandle h = shuffle.plan(rows, groups, 3);
    at::Tensor x = make_tokens(rows, 5, 4).requires_grad_(true);
    at::Tensor mixed = shuffle.forward(x, h);
    EXPECT_FALSE(at::equal(mixed, x));  // 16! orders: this seed moves rows
    at::Tensor back = shuffle.inverse(mixed, h);
    EXPECT_TRUE(at::equal(back, x));  // x[perm][inverse(perm)] == x
    at::Tensor g = make_tokens(rows, 5, 6);
    (back * g).sum().backward();
    EXPECT_TRUE(at::equal(x.grad(), g));
  }
}

MoEBuildOptions stablemoe_options(bool bigram, bool shuffle) {
  testing::LayerSpec spec;
  spec.router = "stablemoe";
  spec.experts = 4;
  spec.top_k = 1;
  spec.lb_coeff = 0.0;
  spec.z_coeff = 0.0;
  MoEBuildOptions o = testing::build_options(spec);
  o.router.vocab_size = 13;
  o.router.stablemoe.stage2_step = 5;
  o.router.stablemoe.distilled_dim = 4;
  o.router.stablemoe.bigram = bigram;
  o.layer.shuffle_tokens = shuffle;
  return o;
}

// Dropless top-1 routing decides per token, so the shuffle must not change any token's output:
// in stage 1 (centroids) and stage 2 (distilled router, bigram features from the predecessors).
TEST(TokenShuffle, DroplessStableMoELayerOutputIsUnchangedByTheShuffle) {
  const std::vector<int64_t> groups = {6, 10, 8};
  at::Tensor x = make_tokens(24, 16, 8);
  at::Tensor ids = at::arange(24, at::kLong).mul(5).remainder(13).view({12, 2});  // [B, S]
  for (int64_t step : {1, 6}) {
    for (bool bigram : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "step " << step << " bigram " << bigram);
      AuxLossCollector aux_plain;
      AuxLossCollector aux_mixed;
      MoELayer plain = build_moe_layer(stablemoe_options(bigram, false), MoEParallel{}, &aux_plain);
      MoELayer mixed = build_moe_layer(stablemoe_options(bigram, true), MoEParallel{}, &aux_mixed);
      MoEForwardArgs args;
      args.step = step;
      args.group_sizes = groups;
      args.token_ids = ids;
      MoEOutput a = plain->forward(x, args);
      MoEOutput b = mixed->forward(x, args);
      EXPECT_LT(relative_error(b.output, a.output), 1e-6);
      // The layer really routed shuffled tokens: its routing order differs from the input's.
      EXPECT_FALSE(at::equal(mixed->last_routing().logits, plain->last_routing().logits));
      // Same tokens, other order: the sorted assignments agree.
      EXPECT_TRUE(at::equal(std::get<0>(at::sort(mixed->last_routing().expert_ids.view(-1))),
                            std::get<0>(at::sort(plain->last_routing().expert_ids.view(-1)))));
      // Evaluation does not shuffle.
      plain->eval();
      mixed->eval();
      EXPECT_TRUE(at::equal(mixed->forward(x, args).output, plain->forward(x, args).output));
    }
  }
}

}  // namespace
}  // namespace switchyard::models
