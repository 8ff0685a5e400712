#include "comm/host_collectives.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace switchyard::comm {
namespace {

template <typename T>
std::vector<T> reduce(Communicator& host, std::vector<T> values, ReduceOp op, at::ScalarType type) {
  if (values.empty()) return values;
  // [n] host tensor over the caller's buffer: reduced in place.
  at::Tensor t = at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, type);
  AllReduceOptions options;
  options.op = op;
  host.all_reduce(t, options)->wait();
  return values;
}

}  // namespace

std::vector<double> all_reduce(Communicator& host, std::vector<double> values, ReduceOp op) {
  return reduce(host, std::move(values), op, at::kDouble);
}

std::vector<int64_t> all_reduce(Communicator& host, std::vector<int64_t> values, ReduceOp op) {
  return reduce(host, std::move(values), op, at::kLong);
}

bool any_rank(Communicator& host, bool flag) {
  return all_reduce(host, std::vector<int64_t>{flag ? 1 : 0}, ReduceOp::kMax)[0] != 0;
}

std::vector<int64_t> all_gather(Communicator& host, const std::vector<int64_t>& values) {
  const auto n = static_cast<int64_t>(values.size());
  std::vector<int64_t> out(static_cast<size_t>(n * host.size()));
  if (out.empty()) return out;
  std::vector<int64_t> mine = values;
  at::Tensor in = at::from_blob(mine.data(), {n}, at::kLong);                // [n]
  at::Tensor all = at::from_blob(out.data(), {n * host.size()}, at::kLong);  // [size * n]
  host.all_gather(all, in)->wait();
  return out;
}

int64_t broadcast(Communicator& host, int64_t value, int root) {
  at::Tensor t = at::from_blob(&value, {1}, at::kLong);  // [1]
  host.broadcast(t, root)->wait();
  return value;
}

void barrier(Communicator& host) { host.barrier()->wait(); }

}  // namespace switchyard::comm
