#include "models/moe/node_dedup_plan.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::models {
namespace {

// [n] host counts of the values of `ids` (int64 in [0, n)).
std::vector<int64_t> host_counts(const at::Tensor& ids, int64_t n) {
  if (n == 0) return {};
  at::Tensor counts =
      ids.numel() > 0 ? at::bincount(ids, {}, n) : at::zeros({n}, ids.options().dtype(at::kLong));
  counts = counts.to(at::kCPU).to(at::kLong).contiguous();
  return std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + n);
}

void check_shape(const NodeDedupShape& s) {
  SY_CHECK(s.num_nodes >= 1 && s.ranks_per_node >= 1) << "node-dedup shape";
  SY_CHECK(s.num_experts > 0 && s.num_experts % (s.num_nodes * s.ranks_per_node) == 0)
      << "num_experts " << s.num_experts << " must be a multiple of the EP size "
      << s.num_nodes * s.ranks_per_node;
}

}  // namespace

NodeDedupSourcePlan make_node_dedup_source_plan(const DispatchPlan& plan,
                                                const NodeDedupShape& shape) {
  check_shape(shape);
  SY_CHECK_EQ(plan.num_experts, shape.num_experts);
  const int64_t nodes = shape.num_nodes;
  const int64_t local = shape.ranks_per_node;
  const int64_t per_node = shape.experts_per_node();  // C = E_node
  const int64_t per_rank = shape.experts_per_rank();  // L
  const int64_t tokens = plan.num_tokens;
  const at::Tensor& token_index = plan.token_index;
  const int64_t rows = token_index.size(0);
  const at::TensorOptions long_options = token_index.options().dtype(at::kLong);
  const at::Tensor weights = plan.weights.to(at::kFloat);  // [N] (differentiable)

  NodeDedupSourcePlan out;
  if (rows == 0) {
    out.token_index = at::zeros({0}, long_options);
    out.meta = at::zeros({0, 2 * per_node}, weights.options()) + weights.sum();  // keeps the graph
    out.rows_per_node.assign(static_cast<size_t>(nodes), 0);
    out.rows_per_rank.assign(static_cast<size_t>(nodes * local), 0);
    return out;
  }
  // [N] expert of every kept row: the rows are grouped by expert.
  std::vector<int64_t> expert_of_row;
  expert_of_row.reserve(static_cast<size_t>(rows));
  for (int64_t e = 0; e < shape.num_experts; ++e) {
    expert_of_row.insert(expert_of_row.end(),
                         static_cast<size_t>(plan.tokens_per_expert[static_cast<size_t>(e)]), e);
  }
  SY_CHECK_EQ(static_cast<int64_t>(expert_of_row.size()), rows) << "plan rows vs per-expert counts";
  const at::Tensor expert = at::tensor(expert_of_row, at::kLong).to(token_index.device());  // [N]
  const at::Tensor node = at::div(expert, per_node, "trunc");  // [N] destination node
  const at::Tensor column = expert.remainder(per_node);        // [N] expert's column on its node

  // One row per (node, token): sorted unique keys node * T + token = grouped by node, tokens in
  // order. inverse [N]: the source row of every kept row.
  const at::Tensor key = node * tokens + token_index;  // [N]
  const auto [unique_keys, inverse, unused] = at::_unique2(key, /*sorted=*/true,
                                                           /*return_inverse=*/true);
  (void)unused;
  const int64_t m = unique_keys.size(0);
  const at::Tensor row_node = at::div(unique_keys, tokens, "trunc");  // [M]
  out.token_index = unique_keys.remainder(tokens);                    // [M]

  // Metadata [M, C] weights (summed if a token holds one expert twice) and [M, C] mask.
  const at::Tensor slot = inverse * per_node + column;  // [N]
  const at::Tensor w = at::zeros({m * per_node}, weights.options()).index_add(0, slot, weights);
  const at::Tensor mask =
      at::zeros({m * per_node}, weights.options().requires_grad(false)).index_fill_(0, slot, 1.0);
  out.meta = at::cat({w.view({m, per_node}), mask.view({m, per_node})}, 1);  // [M, 2C]
  out.rows_per_node = host_counts(row_node, nodes);

  // Rows needing rank (n, g): unique (row, local rank) pairs, key row * G + g.
  const at::Tensor pair_key = inverse * local + at::div(column, per_rank, "trunc");  // [N]
  const at::Tensor pairs = std::get<0>(at::_unique2(pair_key));                      // [pairs]
  const at::Tensor pair_row = at::div(pairs, local, "trunc");
  const at::Tensor dest = row_node.index_select(0, pair_row) * local + pairs.remainder(local);
  out.rows_per_rank = host_counts(dest, nodes * local);
  return out;
}

NodeFanOut make_node_fan_out(const at::Tensor& received_meta,
                             const NodeDedupShape& shape,
                             NodeDedupFault fault) {
  check_shape(shape);
  const int64_t per_node = shape.experts_per_node();  // C
  const int64_t local = shape.ranks_per_node;         // G
  const int64_t per_rank = shape.experts_per_rank();  // L
  const int64_t m = received_meta.size(0);
  SY_CHECK_EQ(received_meta.size(1), 2 * per_node) << "phase-A metadata columns";
  // [M, C] mask -> [M, G, L] -> [M, G]: the row needs local rank g.
  const at::Tensor needs = received_meta.narrow(1, per_node, per_node)
                               .gt(0)
                               .reshape({m, local, per_rank})
                               .any(2);                     // [M, G]
  const at::Tensor pairs = at::nonzero(needs.t());          // [M_B, 2] (g, row), grouped by g
  const at::Tensor rank = pairs.select(1, 0).contiguous();  // [M_B]
  const at::Tensor row = pairs.select(1, 1).contiguous();   // [M_B]
  // [M, 2C] = [M, 2, G, L] -> [M, G, 2, L] -> [M * G, 2L]: rank g's weights and mask of a row.
  const at::Tensor blocks = received_meta.reshape({m, 2, local, per_rank})
                                .permute({0, 2, 1, 3})
                                .reshape({m * local, 2 * per_rank});
  const at::Tensor pick = row * local + rank;  // [M_B]
  NodeFanOut out;
  out.row_index = row;
  if (fault == NodeDedupFault::kFanOutWrongWeights) {
    const at::Tensor wrong = row * local + (rank + 1).remainder(local);
    out.meta = at::cat({blocks.narrow(1, 0, per_rank).index_select(0, wrong),
                        blocks.narrow(1, per_rank, per_rank).index_select(0, pick)},
                       1);  // [M_B, 2L]
  } else {
    out.meta = blocks.index_select(0, pick);  // [M_B, 2L]
  }
  out.rows_per_rank = host_counts(rank, local);
  return out;
}

ExpertExpansion expand_to_local_experts(const at::Tensor& received_meta, int64_t local_experts) {
  const int64_t rows = received_meta.size(0);
  SY_CHECK_EQ(received_meta.size(1), 2 * local_experts) << "phase-B metadata columns";
  const at::Tensor assigned =
      received_meta.narrow(1, local_experts, local_experts).gt(0);  // [R_B, L]
  const at::Tensor pairs = at::nonzero(assigned.t());  // [R, 2] (expert, row), grouped by expert
  const at::Tensor expert = pairs.select(1, 0).contiguous();  // [R]
  const at::Tensor row = pairs.select(1, 1).contiguous();     // [R]
  ExpertExpansion out;
  out.row_index = row;
  out.weights = received_meta.narrow(1, 0, local_experts)
                    .reshape({rows * local_experts})
                    .index_select(0, row * local_experts + expert);  // [R]
  out.tokens_per_expert = host_counts(expert, local_experts);
  return out;
}

}  // namespace switchyard::models
