#include "models/moe/node_dedup_dispatcher.h"

#include <utility>

#include <ATen/ATen.h>

#include "comm/all_to_all_function.h"
#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::models {
namespace {

// rows [n, H] and their metadata [n, C] through one exchange -> ([n', H], [n', C]). Float32
// rows share one message per peer with the metadata ([n, H + C]); other dtypes take two
// exchanges (the metadata stays float32: combine weights must not be rounded).
std::pair<at::Tensor, at::Tensor> exchange_with_meta(const std::shared_ptr<comm::AllToAll>& a2a,
                                                     const at::Tensor& rows,
                                                     const at::Tensor& meta,
                                                     const comm::AllToAllLayout& layout) {
  const int64_t hidden = rows.size(1);
  const int64_t columns = meta.size(1);
  if (rows.scalar_type() == at::kFloat) {
    const at::Tensor packed = at::cat({rows, meta}, 1).contiguous();        // [n, H + C]
    const at::Tensor got = comm::all_to_all_autograd(a2a, packed, layout);  // [n', H + C]
    return {got.narrow(1, 0, hidden), got.narrow(1, hidden, columns)};
  }
  return {comm::all_to_all_autograd(a2a, rows.contiguous(), layout),   // [n', H]
          comm::all_to_all_autograd(a2a, meta.contiguous(), layout)};  // [n', C]
}

}  // namespace

NodeDedupDispatcher::NodeDedupDispatcher(std::shared_ptr<comm::Communicator> host_expert,
                                         std::shared_ptr<comm::AllToAll> inter_node,
                                         std::shared_ptr<comm::AllToAll> intra_node,
                                         int64_t num_experts,
                                         NodeDedupFault fault)
    : host_expert_(std::move(host_expert)),
      inter_(std::move(inter_node)),
      intra_(std::move(intra_node)),
      fault_(fault) {
  SY_CHECK(host_expert_ != nullptr && inter_ != nullptr && intra_ != nullptr)
      << "node dedup needs the EP host group and both phase all-to-alls";
  shape_.num_nodes = inter_->group_size();
  shape_.ranks_per_node = intra_->group_size();
  shape_.num_experts = num_experts;
  SY_CHECK_EQ(host_expert_->size(), shape_.num_nodes * shape_.ranks_per_node)
      << "EP group vs nodes x ranks per node";
  SY_CHECK_EQ(host_expert_->rank(),
              inter_->group_rank() * shape_.ranks_per_node + intra_->group_rank())
      << "EP rank vs (node, local index): the EP group must be node-contiguous";
  SY_CHECK_EQ(num_experts % host_expert_->size(), 0)
      << "num_experts must be a multiple of the EP size";
}

DispatchedTokens NodeDedupDispatcher::dispatch(const at::Tensor& tokens, const DispatchPlan& plan) {
  SY_CHECK_EQ(tokens.size(0), plan.num_tokens);
  const int64_t nodes = shape_.num_nodes;       // N
  const int64_t local = shape_.ranks_per_node;  // G
  const int64_t ep = nodes * local;             // P
  const int64_t node = inter_->group_rank();    // n of this rank
  const int64_t index = intra_->group_rank();   // l of this rank
  NodeDedupSourcePlan source = make_node_dedup_source_plan(plan, shape_);

  // [P * (N + P)]: every EP rank's rows per destination node and per destination rank.
  std::vector<int64_t> mine = source.rows_per_node;
  mine.insert(mine.end(), source.rows_per_rank.begin(), source.rows_per_rank.end());
  const std::vector<int64_t> all = comm::all_gather(*host_expert_, mine);
  const int64_t stride = nodes + ep;
  auto at_rank = [&](int64_t n, int64_t g, int64_t column) {
    return all[static_cast<size_t>((n * local + g) * stride + column)];
  };
  // Phase A matrix [N * N]: (n_s, l) -> (n, l) rows. Phase B matrix [G * G]: relay (node, l')
  // forwards to (node, g) every row that a source (n_s, l') sent for rank (node, g).
  std::vector<int64_t> inter_counts(static_cast<size_t>(nodes * nodes));
  for (int64_t src = 0; src < nodes; ++src) {
    for (int64_t dst = 0; dst < nodes; ++dst) {
      inter_counts[static_cast<size_t>(src * nodes + dst)] = at_rank(src, index, dst);
    }
  }
  std::vector<int64_t> intra_counts(static_cast<size_t>(local * local), 0);
  for (int64_t relay = 0; relay < local; ++relay) {
    for (int64_t g = 0; g < local; ++g) {
      int64_t sum = 0;
      for (int64_t src = 0; src < nodes; ++src)
        sum += at_rank(src, relay, nodes + node * local + g);
      intra_counts[static_cast<size_t>(relay * local + g)] = sum;
    }
  }
  auto state = std::make_shared<NodeDedupState>();
  state->inter_layout = comm::AllToAllLayout::from_agreed_count_matrix(
      static_cast<int>(node), static_cast<int>(nodes), std::move(inter_counts));
  state->intra_layout = comm::AllToAllLayout::from_agreed_count_matrix(
      static_cast<int>(index), static_cast<int>(local), std::move(intra_counts));
  state->source_token_index = source.token_index;
  state->num_tokens = plan.num_tokens;

  // Phase A: [M, H] + [M, 2 E_node] -> relay [M', H] + [M', 2 E_node].
  const at::Tensor rows = tokens.index_select(0, source.token_index);  // [M, H]
  auto [relay_rows, relay_meta] =
      exchange_with_meta(inter_, rows, source.meta, state->inter_layout);
  state->relay_rows = relay_rows.size(0);

  // Phase B: fan out [M_B, H] + [M_B, 2L] -> expert rank [R_B, H] + [R_B, 2L].
  NodeFanOut fan = make_node_fan_out(relay_meta, shape_, fault_);
  SY_CHECK(fan.rows_per_rank == state->intra_layout.send_counts())
      << "fan-out rows disagree with the sources' counts";
  state->relay_row_index = fan.row_index;
  const at::Tensor fanned = relay_rows.index_select(0, fan.row_index);  // [M_B, H]
  auto [expert_rows, expert_meta] =
      exchange_with_meta(intra_, fanned, fan.meta, state->intra_layout);
  state->expert_input_rows = expert_rows.size(0);

  // Expand to (local expert, row) order: [R, H], tokens_per_expert [L].
  ExpertExpansion expansion = expand_to_local_experts(expert_meta, shape_.experts_per_rank());
  state->expert_row_index = expansion.row_index;
  state->expert_weights = expansion.weights;

  DispatchedTokens out;
  out.tokens = expert_rows.index_select(0, expansion.row_index);  // [R, H]
  out.tokens_per_expert = std::move(expansion.tokens_per_expert);
  out.handle.plan = plan;
  out.handle.layout = state->inter_layout;
  // Inter-node rows of this dispatch: phase-A rows to other nodes, with their metadata.
  int64_t remote = 0;
  for (int64_t n = 0; n < nodes; ++n) {
    if (n != node) remote += source.rows_per_node[static_cast<size_t>(n)];
  }
  const int64_t meta_bytes = 2 * shape_.experts_per_node() * 4;  // float32 weights and mask
  out.handle.inter_node_rows = remote;
  out.handle.inter_node_bytes = remote * (tokens.size(1) * tokens.element_size() + meta_bytes);
  out.handle.node_dedup = std::move(state);
  return out;
}

at::Tensor NodeDedupDispatcher::combine(const at::Tensor& expert_output,
                                        const DispatchHandle& handle) {
  SY_CHECK(handle.node_dedup != nullptr) << "combine needs the handle of this dispatcher";
  const NodeDedupState& s = *handle.node_dedup;
  const at::ScalarType dtype = expert_output.scalar_type();
  const int64_t hidden = expert_output.size(1);
  const at::TensorOptions f32 = expert_output.options().dtype(at::kFloat);
  // Expert rank: y_b = sum_e w_{b,e} f_e(x_b): [R, H] * [R, 1] -> index_add -> [R_B, H].
  const at::Tensor weighted = expert_output.to(at::kFloat) * s.expert_weights.unsqueeze(1);
  const at::Tensor per_row = at::zeros({s.expert_input_rows, hidden}, f32)
                                 .index_add(0, s.expert_row_index, weighted)
                                 .to(dtype);  // [R_B, H]
  // Reverse phase B: [R_B, H] -> relay [M_B, H]; node reduce per phase-A row -> [M', H].
  const at::Tensor back_b = comm::all_to_all_autograd(intra_, per_row.contiguous(),
                                                      s.intra_layout.transposed());  // [M_B, H]
  at::Tensor node_sum = at::zeros({s.relay_rows, hidden}, f32);
  node_sum = fault_ == NodeDedupFault::kNodeReduceKeepsOne
                 ? node_sum.index_copy(0, s.relay_row_index, back_b.to(at::kFloat))
                 : node_sum.index_add(0, s.relay_row_index, back_b.to(at::kFloat));  // [M', H]
  // Reverse phase A: [M', H] -> source [M, H]; sum per token -> [T, H].
  const at::Tensor back_a = comm::all_to_all_autograd(inter_, node_sum.to(dtype).contiguous(),
                                                      s.inter_layout.transposed());  // [M, H]
  return at::zeros({s.num_tokens, hidden}, f32)
      .index_add(0, s.source_token_index, back_a.to(at::kFloat))
      .to(dtype);  // [T, H]
}

}  // namespace switchyard::models
