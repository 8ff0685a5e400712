#include "models/moe/pipelined_expert_pass.h"

#include <chrono>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>

#include "comm/a2a/expert_layout.h"
#include "core/check.h"
#include "models/moe/exchange_chunks.h"
#include "models/moe/experts.h"

namespace switchyard::models {
namespace {

using Clock = std::chrono::steady_clock;
using torch::autograd::Node;
using torch::autograd::variable_list;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs one exchange on the worker (or inline when there is none); the result arrives in order.
std::future<at::Tensor> launch(const PipelinedPass& pass,
                               const at::Tensor& input,
                               const comm::AllToAllLayout& layout) {
  const std::shared_ptr<comm::AllToAll>& a2a = pass.all_to_all;
  at::Tensor rows = input.detach().contiguous();
  if (pass.worker != nullptr) {
    return pass.worker->submit([a2a, rows, layout] { return a2a->exchange(rows, layout); });
  }
  std::promise<at::Tensor> done;
  {
    at::NoGradGuard no_grad;
    done.set_value(a2a->exchange(rows, layout));
  }
  return done.get_future();
}

// One chunk of the pass, as backward needs it.
struct ChunkState {
  comm::AllToAllLayout layout;  // dispatch direction (sender -> expert side)
  at::Tensor send_index;        // [N_c] rows of the send buffer this chunk sends
  at::Tensor order;             // [R_c] received row of each expert-grouped row
  at::Tensor inverse;           // [R_c] argsort(order)
  at::Tensor expert_input;      // [R_c, H] leaf, grouped by local expert
  at::Tensor expert_output;     // [R_c, H] with the experts' graph (to expert_input, weights)
};

// Backward of the pipelined exchange: grad_back_rows [N, H] -> grad_rows [N, H], the reverse
// exchanges pipelined with the experts' backward (a reentrant backward per chunk accumulates the
// expert weights' gradients), in the same order on every rank:
//   G0 G1 R0 G2 R1 ...   G = combine reversed (sender -> experts), R = dispatch reversed.
class PipelinedExchangeBackward : public Node {
 public:
  PipelinedExchangeBackward(PipelinedPass pass, std::vector<ChunkState> chunks, at::Tensor rows)
      : pass_(std::move(pass)),
        chunks_(std::move(chunks)),
        sizes_(rows.sizes().vec()),
        options_(rows.options()) {}

  std::string name() const override { return "switchyard::models::PipelinedExchangeBackward"; }

  variable_list apply(variable_list&& grads) override {
    SY_CHECK(!released_) << "the pipelined MoE exchange was already backpropagated (retain_graph)";
    const at::Tensor grad = grads[0].defined() ? grads[0] : at::zeros(sizes_, options_);  // [N, H]
    const size_t C = chunks_.size();
    std::vector<std::future<at::Tensor>> to_experts(C);
    std::vector<std::future<at::Tensor>> to_senders(C);
    auto start = [&](size_t c) {
      // [N_c, H] by destination rank -> [R_c, H] by source rank
      to_experts[c] = launch(pass_, grad.index_select(0, chunks_[c].send_index), chunks_[c].layout);
    };
    start(0);
    if (C > 1) start(1);
    for (size_t c = 0; c < C; ++c) {
      ChunkState& s = chunks_[c];
      const at::Tensor grad_output = to_experts[c].get().index_select(0, s.order);  // [R_c, H]
      torch::autograd::backward({s.expert_output}, {grad_output.to(s.expert_output.dtype())});
      at::Tensor grad_input = s.expert_input.grad();  // [R_c, H] by local expert
      if (!grad_input.defined()) grad_input = at::zeros_like(s.expert_input);
      // [R_c, H] (source, local expert) order -> [N_c, H] at the senders
      to_senders[c] = launch(pass_, grad_input.index_select(0, s.inverse).to(options_.dtype()),
                             s.layout.transposed());
      if (c + 2 < C) start(c + 2);
    }
    at::Tensor grad_rows = at::zeros(sizes_, options_);  // [N, H] in send order
    for (size_t c = 0; c < C; ++c) {
      grad_rows.index_copy_(0, chunks_[c].send_index, to_senders[c].get());
    }
    return {grad_rows};
  }

  void release_variables() override {
    chunks_.clear();
    released_ = true;
  }

 private:
  PipelinedPass pass_;
  std::vector<ChunkState> chunks_;
  std::vector<int64_t> sizes_;
  at::TensorOptions options_;
  bool released_ = false;
};

}  // namespace

ExpertPass pipelined_expert_pass(const at::Tensor& tokens,
                                 const DispatchPlan& plan,
                                 Experts& experts,
                                 const PipelinedPass& pass) {
  SY_CHECK(pass.host_expert != nullptr && pass.all_to_all != nullptr) << "EP group and strategy";
  SY_CHECK_GE(pass.chunks, 1) << "comm.overlap_chunks";
  ExpertPass out;
  Clock::time_point start = Clock::now();
  at::Tensor rows = tokens.index_select(0, plan.token_index);  // [N, H] grouped by EP rank, expert
  bool need_grad = at::GradMode::is_enabled() && rows.requires_grad();
  for (const at::Tensor& p : experts.parameters()) need_grad |= p.requires_grad();
  need_grad &= at::GradMode::is_enabled();
  // [P, E] per-expert counts of every EP rank, agreed (one all-gather, host sync): the last
  // collective this thread issues until the pipeline is drained.
  const comm::ExpertLayout counts =
      comm::exchange_expert_counts(*pass.host_expert, plan.tokens_per_expert);
  const std::vector<ExchangeChunk> cut = cut_exchange(counts, pass.chunks);
  const size_t C = cut.size();
  std::vector<ChunkState> chunks(C);
  std::vector<std::future<at::Tensor>> dispatched(C);
  auto dispatch = [&](size_t c) {
    chunks[c].layout = cut[c].experts.layout;
    chunks[c].send_index = at::tensor(cut[c].send_rows, at::kLong).to(rows.device());  // [N_c]
    // [N_c, H] grouped by destination rank, each destination's rows by expert
    dispatched[c] = launch(pass, rows.index_select(0, chunks[c].send_index), chunks[c].layout);
  };
  dispatch(0);
  if (C > 1) dispatch(1);
  out.dispatch_seconds += seconds_since(start);

  std::vector<std::future<at::Tensor>> combined(C);
  for (size_t c = 0; c < C; ++c) {
    ChunkState& s = chunks[c];
    start = Clock::now();
    const comm::ExpertLayout& el = cut[c].experts;
    const at::Tensor received = dispatched[c].get();  // [R_c, H] by (source rank, local expert)
    s.order = at::tensor(el.expert_major_order(), at::kLong).to(received.device());  // [R_c]
    s.inverse = at::argsort(s.order);                                                // [R_c]
    s.expert_input = received.index_select(0, s.order);  // [R_c, H] by (local expert, source)
    if (need_grad) s.expert_input.requires_grad_(true);
    out.dispatch_seconds += seconds_since(start);

    start = Clock::now();
    s.expert_output = experts.forward(s.expert_input, el.rows_per_local_expert());  // [R_c, H]
    // (local expert, source) -> (source, local expert), the order received
    const at::Tensor by_source = s.expert_output.detach().index_select(0, s.inverse);
    out.expert_seconds += seconds_since(start);

    start = Clock::now();
    combined[c] = launch(pass, by_source, el.layout.transposed());  // back to the senders
    if (c + 2 < C) dispatch(c + 2);
    out.dispatch_seconds += seconds_since(start);
  }

  start = Clock::now();
  at::Tensor back_rows;  // [N, H] expert outputs in the send buffer's order (the plan's)
  {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> back(C);
    std::vector<at::Tensor> index(C);
    for (size_t c = 0; c < C; ++c) {
      back[c] = combined[c].get();  // [N_c, H]
      index[c] = chunks[c].send_index;
    }
    back_rows = at::cat(back, 0).index_select(0, at::argsort(at::cat(index, 0)));
  }
  if (need_grad) {
    auto node = std::make_shared<PipelinedExchangeBackward>(pass, std::move(chunks), rows);
    node->set_next_edges(torch::autograd::collect_next_edges(rows));
    torch::autograd::set_history(back_rows, node);
  }
  out.combined = combine_rows(back_rows, plan, tokens.scalar_type());
  out.combine_seconds = seconds_since(start);
  out.handle.plan = plan;
  out.handle.layout = counts.layout;
  return out;
}

}  // namespace switchyard::models
