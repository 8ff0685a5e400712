// File: comm/all_gather_function.h
//
// A differentiable all-gather for LibTorch graphs (ALGORITHMS.md §10 item 1).
//
//   y = all_gather_autograd(group, x /* [rows, ...], same shape on every rank */)
//       -> [group.size() * rows, ...], the ranks' x concatenated in rank order
//   dL/dx = (sum over ranks of dL_r/dy)[my rows]        (reduce-scatter; the exact adjoint)
//
// The backward is the adjoint of the collective when every rank adds its own copy of a loss
// computed from y to its objective (the per-rank losses are summed or averaged afterwards):
// rank r's x then receives the gradients of every rank's copy. Switchyard's gradient
// synchronization averages dense gradients over the world and sums expert gradients over the
// expert-data group before dividing by the world size (train/grad_sync.cc), which makes this the
// right backward for both replicated (router) and sharded (expert) inputs.
//
// Contract: collective in forward and backward; every rank must run the backward of its matching
// forward calls in the same order (true for identical graphs). The reduction is implemented as an
// all-reduce of the full gradient followed by a slice (cheap for the small tensors it serves).
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>

#include "comm/communicator.h"

namespace switchyard::comm {

at::Tensor all_gather_autograd(const std::shared_ptr<Communicator>& group, const at::Tensor& input);

}  // namespace switchyard::comm
