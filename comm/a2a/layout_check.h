// File: comm/a2a/layout_check.h (internal to comm/)
//
// verify_layout: the pre-payload agreement check of the all-to-all strategies. Collective over
// `group`: one all-gather of every rank's [status, row bytes, fingerprint, send counts, recv
// counts] (int64 [3 + 2P]). Every rank evaluates the same gathered data, so either all ranks
// pass or all throw the same CommError, naming the ranks and counts that disagree.
#pragma once

#include <string_view>

#include <ATen/core/Tensor.h>

#include "comm/all_to_all.h"
#include "comm/communicator.h"

namespace switchyard::comm {

void verify_layout(Communicator& group,
                   const AllToAllLayout& layout,
                   const at::Tensor& input,
                   std::string_view strategy,
                   std::chrono::milliseconds timeout);

// Local checks of an exchange's arguments that do not need communication: layout size and rank
// match the group, input is a contiguous CPU-or-device tensor with a row dim whose row count
// matches the layout. Throws CommError.
void check_exchange_args(const Communicator& group,
                         const AllToAllLayout& layout,
                         const at::Tensor& input,
                         std::string_view strategy);

// The preamble of every strategy's exchange(): verify_layout when the layout is not agreed (or
// options.always_verify_layout), else check_exchange_args; with `need_count_matrix`, a layout
// without the full count matrix is refused. Collective when it verifies.
void check_layout_for_exchange(Communicator& group,
                               const AllToAllLayout& layout,
                               const at::Tensor& input,
                               std::string_view strategy,
                               const AllToAllStrategyOptions& options,
                               bool need_count_matrix);

// The two-level strategies' group shape: `group` (P = N*G ranks) must be node-contiguous over
// `intra_node` (the G ranks of this node, rank = l) and `inter_node` (the N ranks with this local
// index, rank = n), i.e. EP rank = n * G + l. InternalError otherwise.
void check_node_contiguous(const Communicator* group,
                           const Communicator* intra_node,
                           const Communicator* inter_node,
                           std::string_view strategy);

}  // namespace switchyard::comm
