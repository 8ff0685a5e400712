#include "comm/a2a/exchange_rows.h"

#include <ATen/ATen.h>

namespace switchyard::comm {

int64_t row_bytes(const at::Tensor& t) {
  int64_t elems = 1;
  for (int64_t d = 1; d < t.dim(); ++d) elems *= t.size(d);
  return elems * static_cast<int64_t>(t.element_size());
}

at::Tensor exchange_rows(Communicator& group,
                         const at::Tensor& in,
                         const std::vector<int64_t>& send_counts,
                         const std::vector<int64_t>& recv_counts,
                         std::chrono::milliseconds timeout,
                         ReusableBuffer* buffer) {
  if (group.size() == 1) return in;  // self exchange: send_counts == recv_counts == {rows}
  int64_t total_recv = 0;
  for (int64_t c : recv_counts) total_recv += c;
  std::vector<int64_t> sizes = in.sizes().vec();
  sizes[0] = total_recv;
  at::Tensor out = buffer != nullptr ? buffer->get(sizes, in.options())
                                     : at::empty(sizes, in.options());  // [sum(recv_counts), ...]
  AllToAllOptions options;
  options.timeout = timeout;
  group.all_to_all(out, in, recv_counts, send_counts, options)->wait();
  return out;
}

}  // namespace switchyard::comm
