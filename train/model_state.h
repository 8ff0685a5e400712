// File: train/model_state.h
//
// Parameters and optimizer state <-> checkpoint tensors, independent of the parallel layout.
//
// Dense parameters are stored under their module names. Expert parameters hold this rank's L
// local experts along dim 0 ([L, ...], global ids first_expert .. first_expert + L - 1); each
// expert is stored on its own under its global id:
//     "blocks.1.ffn.moe.experts.w1"  (local [2, H, F], experts 4 and 5)
//  -> "blocks.1.ffn.moe.experts.4.w1" [H, F],  "blocks.1.ffn.moe.experts.5.w1" [H, F]
// so a run saved at expert-parallel size 4 resumes at 2 or 1 and vice versa. The AdamW state
// of each stored tensor goes beside it as "optim.exp_avg.<name>", "optim.exp_avg_sq.<name>" and
// "optim.step.<name>" ([1] int64).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "train/optimizer.h"
#include "train/safetensors.h"

namespace switchyard::train {

struct ParamSlot {
  std::string name;  // module name
  at::Tensor tensor;
  bool expert = false;       // dim 0 indexes local experts
  int64_t first_expert = 0;  // global id of local expert 0
};

// Checkpoint name of expert `global_id` of parameter `name` ("a.experts.w1", 4 ->
// "a.experts.4.w1").
std::string expert_tensor_name(const std::string& name, int64_t global_id);

// The tensors of `slots` (dense ones if `dense`, expert ones if `experts`) and their optimizer
// state, under their checkpoint names.
NamedTensors checkpoint_tensors(const std::vector<ParamSlot>& slots,
                                const std::map<std::string, Optimizer::ParamState>& optimizer_state,
                                bool dense,
                                bool experts);

// Persistent buffers (state outside the parameters, e.g. the aux-loss-free expert bias), stored
// under "buffer.<name>" on the CPU. Buffers are replicated: every rank holds the same values.
NamedTensors buffer_tensors(const std::vector<std::pair<std::string, at::Tensor>>& buffers);

// Copies the stored "buffer.<name>" values into the live `buffers` (in place, on their device
// and dtype). `required`: a missing buffer is an Error naming it; otherwise (a checkpoint
// written before buffers were stored) missing buffers keep their values and are returned.
std::vector<std::string> restore_buffers(
    const std::map<std::string, at::Tensor>& stored,
    const std::vector<std::pair<std::string, at::Tensor>>& buffers,
    bool required);

// Copies the stored values into `slots` (every slot must be found) and returns the optimizer
// state to load (by module name). Throws Error naming a missing or mis-shaped tensor.
std::map<std::string, Optimizer::ParamState> restore_from_checkpoint(
    const std::map<std::string, at::Tensor>& stored, const std::vector<ParamSlot>& slots);

}  // namespace switchyard::train
