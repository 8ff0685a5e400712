// File: comm/a2a/exchange_rows.h (internal to comm/)
//
// One all-to-all phase of a strategy: allocates the output and runs the communicator's variable
// all-to-all synchronously. A 1-rank group is a local copy-free shortcut (the result may alias
// the input).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/communicator.h"
#include "comm/reusable_buffer.h"

namespace switchyard::comm {

// in: [sum(send_counts), ...] -> returns [sum(recv_counts), ...]. Collective over `group`.
// The output comes from `buffer` when given.
at::Tensor exchange_rows(Communicator& group,
                         const at::Tensor& in,
                         const std::vector<int64_t>& send_counts,
                         const std::vector<int64_t>& recv_counts,
                         std::chrono::milliseconds timeout,
                         ReusableBuffer* buffer = nullptr);

// Bytes of one row of `t` ([R, ...]): product of trailing dims * element size.
int64_t row_bytes(const at::Tensor& t);

}  // namespace switchyard::comm
