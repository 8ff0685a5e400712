#include "models/moe/token_shuffle.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "comm/all_to_all_function.h"
#include "core/check.h"
#include "models/moe/router_noise.h"

namespace switchyard::models {
namespace {

constexpr uint64_t kShuffleStream = 0x5348554646ULL;  // "SHUFF"

// First row of each chunk of `rows` split into `workers` ([workers + 1], last = rows).
std::vector<int64_t> chunk_starts(int64_t rows, int workers) {
  std::vector<int64_t> sizes = shuffle_chunk_sizes(rows, workers);
  std::vector<int64_t> starts(sizes.size() + 1, 0);
  for (size_t r = 0; r < sizes.size(); ++r) starts[r + 1] = starts[r] + sizes[r];
  return starts;
}

// Exchange without a graph node for tensors that carry no gradient (token ids).
at::Tensor exchange(const std::shared_ptr<comm::AllToAll>& a2a,
                    const at::Tensor& rows,
                    const comm::AllToAllLayout& layout) {
  if (rows.requires_grad()) return comm::all_to_all_autograd(a2a, rows, layout);
  return a2a->exchange(rows, layout);
}

}  // namespace

std::vector<int64_t> shuffle_chunk_sizes(int64_t rows, int workers) {
  SY_CHECK_GT(workers, 0);
  SY_CHECK_GE(rows, 0);
  std::vector<int64_t> sizes(static_cast<size_t>(workers), rows / workers);
  for (int64_t r = 0; r < rows % workers; ++r) ++sizes[static_cast<size_t>(r)];
  return sizes;
}

at::Tensor shuffle_permutation(int64_t rows, uint64_t seed, int worker) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
      mix_seed(seed, kShuffleStream, static_cast<uint64_t>(worker)));
  return at::randperm(rows, gen, at::TensorOptions().dtype(at::kLong));  // [rows]
}

TokenShuffle::TokenShuffle(std::shared_ptr<comm::Communicator> host_expert,
                           std::shared_ptr<comm::AllToAll> all_to_all)
    : host_expert_(std::move(host_expert)), all_to_all_(std::move(all_to_all)) {
  SY_CHECK(host_expert_ != nullptr && all_to_all_ != nullptr) << "EP group and all-to-all";
  SY_CHECK_EQ(all_to_all_->group_size(), host_expert_->size()) << "all-to-all strategy vs EP group";
}

ShuffleHandle TokenShuffle::plan(int64_t num_tokens,
                                 const std::vector<int64_t>& group_sizes,
                                 uint64_t seed) const {
  ShuffleHandle h;
  h.input_rows = num_tokens;
  if (host_expert_ != nullptr) {
    SY_CHECK(group_sizes.empty()) << "the distributed shuffle takes one routing group per rank";
    const int workers = host_expert_->size();
    const int me = host_expert_->rank();
    h.distributed = true;
    h.send_order = shuffle_permutation(num_tokens, seed, me);  // [T]
    // Collective: all-gathers every rank's chunk sizes into the [W, W] count matrix.
    h.layout = comm::AllToAllLayout::exchange_counts(*host_expert_,
                                                     shuffle_chunk_sizes(num_tokens, workers));
    h.output_rows = h.layout.total_recv_rows();
  } else {
    const std::vector<int64_t> groups =
        group_sizes.empty() ? std::vector<int64_t>{num_tokens} : group_sizes;
    const int workers = static_cast<int>(groups.size());
    std::vector<at::Tensor> perms;             // worker w's permutation, offset to global rows
    std::vector<std::vector<int64_t>> starts;  // worker w's chunk starts
    int64_t offset = 0;
    for (int w = 0; w < workers; ++w) {
      perms.push_back(shuffle_permutation(groups[static_cast<size_t>(w)], seed, w) + offset);
      starts.push_back(chunk_starts(groups[static_cast<size_t>(w)], workers));
      offset += groups[static_cast<size_t>(w)];
    }
    SY_CHECK_EQ(offset, num_tokens) << "routing group sizes must sum to the token count";
    std::vector<at::Tensor> pieces;  // new group r = chunk r of every worker, in worker order
    h.shuffled_group_sizes.assign(static_cast<size_t>(workers), 0);
    for (int r = 0; r < workers; ++r) {
      for (int w = 0; w < workers; ++w) {
        const int64_t begin = starts[static_cast<size_t>(w)][static_cast<size_t>(r)];
        const int64_t end = starts[static_cast<size_t>(w)][static_cast<size_t>(r) + 1];
        pieces.push_back(perms[static_cast<size_t>(w)].narrow(0, begin, end - begin));
        h.shuffled_group_sizes[static_cast<size_t>(r)] += end - begin;
      }
    }
    h.send_order = at::cat(pieces);  // [T]
    h.output_rows = num_tokens;
    if (group_sizes.empty()) h.shuffled_group_sizes.clear();
  }
  h.restore_order = at::argsort(h.send_order);  // [T]
  return h;
}

at::Tensor TokenShuffle::forward(const at::Tensor& rows, const ShuffleHandle& handle) const {
  SY_CHECK_EQ(rows.size(0), handle.input_rows) << "shuffle input rows";
  at::Tensor permuted = rows.index_select(0, handle.send_order.to(rows.device()));  // [T, ...]
  if (!handle.distributed) return permuted;
  return exchange(all_to_all_, permuted.contiguous(), handle.layout);  // [T', ...]
}

at::Tensor TokenShuffle::inverse(const at::Tensor& rows, const ShuffleHandle& handle) const {
  SY_CHECK_EQ(rows.size(0), handle.output_rows) << "unshuffle input rows";
  at::Tensor back = rows;
  if (handle.distributed) {
    back = exchange(all_to_all_, rows.contiguous(), handle.layout.transposed());  // [T, ...]
  }
  return back.index_select(0, handle.restore_order.to(back.device()));  // [T, ...] caller's order
}

}  // namespace switchyard::models
