// File: comm/all_to_all_function.h
//
// A differentiable all-to-all for LibTorch graphs.
//
//   y = all_to_all_autograd(a2a, x /* [layout.total_send_rows(), ...] */, layout)
//       -> [layout.total_recv_rows(), ...]
//   dL/dx = a2a->exchange(dL/dy, layout.transposed())
//
// Contract: the backward exchange is collective too: every EP rank must run the backward of its
// matching forward calls in the same order (true for identical graphs on every rank). The graph
// node holds `a2a` (shared) and a copy of the layout. Ranks whose output gets no gradient still
// take part in the backward exchange with zeros only if their graph reaches the node: make the
// loss depend on the output on every rank (e.g. add 0 * y.sum()).
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"

namespace switchyard::comm {

at::Tensor all_to_all_autograd(const std::shared_ptr<AllToAll>& a2a,
                               const at::Tensor& input,
                               const AllToAllLayout& layout);

}  // namespace switchyard::comm
