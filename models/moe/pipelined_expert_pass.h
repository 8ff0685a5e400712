// File: models/moe/pipelined_expert_pass.h
//
// The expert-parallel pass with the token exchange overlapped with the experts' compute
// (comm.overlap_chunks = C > 1; docs/overlap.md). The exchange is cut into C chunks
// (exchange_chunks.h); an ExchangeWorker thread runs the chunks' all-to-alls while this thread
// runs the experts:
//
//   worker:  D0  D1  C0  D2  C1  D3 ...  C(C-1)        D = dispatch all-to-all, C = combine
//   caller:      E0      E1      E2 ...                E = experts on one chunk's rows
//
// Submission order (the collective order, the same on every rank): D0, D1, then after each
// chunk's experts its combine and the dispatch two chunks ahead. Results equal the
// non-pipelined pass row for row: every row meets the same expert weights and the combine sums
// each token's rows in the plan's order (the experts' matrix products run on fewer rows at a
// time; tests/models/overlap_gold_test.cc compares both). Backward is pipelined the same way:
// one autograd node runs the reverse exchanges on the worker while a reentrant backward per
// chunk runs the experts' backward (their weight gradients accumulate chunk by chunk, so they
// equal the plain pass's up to float summation order).
//
// worker == nullptr runs every exchange inline on this thread, in the same order (chunked but
// not overlapped: the CUDA path until NCCL runs its exchanges on a comm stream, and tests).
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"
#include "comm/communicator.h"
#include "comm/exchange_worker.h"
#include "models/moe/token_dispatcher.h"

namespace switchyard::models {

class Experts;

struct PipelinedPass {
  comm::Communicator* host_expert = nullptr;     // EP group's host communicator (expert counts)
  std::shared_ptr<comm::AllToAll> all_to_all;    // over the EP group
  int chunks = 2;                                // C >= 1
  std::shared_ptr<comm::ExchangeWorker> worker;  // null: inline
};

// tokens: [T, H]; plan from make_dispatch_plan. Collective over the EP group (also with zero
// local tokens). Returns the combined [T, H] (tokens' dtype), differentiable.
ExpertPass pipelined_expert_pass(const at::Tensor& tokens,
                                 const DispatchPlan& plan,
                                 Experts& experts,
                                 const PipelinedPass& pass);

}  // namespace switchyard::models
