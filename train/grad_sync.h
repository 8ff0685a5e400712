// File: train/grad_sync.h
//
// Gradient synchronization for data parallelism with expert parallelism inside it.
//
// Every rank's loss is the mean over its own tokens, and the global loss is the mean of the
// ranks' losses (equal local batches), so every gradient of the global loss is 1/W times a sum:
//   * dense parameters (attention, norms, embeddings, routers) are replicated on all W ranks:
//     all-reduce SUM over `world`, divide by W;
//   * expert parameters live on one rank per expert-parallel group. The backward all-to-all has
//     already summed the contributions of every rank of that group into the owner's gradient,
//     so the remaining sum is over the replicas of the same experts (`expert_data`, W / P ranks):
//     all-reduce SUM over `expert_data`, then divide by W (not by the group size).
// Gradients are flattened into buckets of at most `bucket_bytes` per dtype and all-reduced with
// one collective per bucket, all issued before any is waited on. The buckets are allocated once
// per synchronizer; groups of one rank are skipped (nothing to sum, scale 1).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "comm/communicator.h"

namespace switchyard::train {

struct GradSyncOptions {
  int64_t bucket_bytes = 8 << 20;
};

class GradientSynchronizer {
 public:
  GradientSynchronizer(std::vector<at::Tensor> dense_params,
                       std::vector<at::Tensor> expert_params,
                       std::shared_ptr<comm::Communicator> world,
                       std::shared_ptr<comm::Communicator> expert_data,
                       GradSyncOptions options = {});

  // Synchronizes the gradients in place. Parameters without a gradient get a zero one first, so
  // every rank issues the same collectives. Collective over `world` and `expert_data`.
  void synchronize();

  // Collectives issued by the last synchronize() (for tests and metrics).
  int last_num_collectives() const { return last_num_collectives_; }

 private:
  struct Bucket {
    std::vector<at::Tensor> params;
    at::Tensor flat;  // [sum numel] in the params' dtype
  };
  static std::vector<Bucket> make_buckets(const std::vector<at::Tensor>& params,
                                          int64_t bucket_bytes);

  std::vector<Bucket> dense_buckets_;
  std::vector<Bucket> expert_buckets_;
  std::shared_ptr<comm::Communicator> world_;
  std::shared_ptr<comm::Communicator> expert_data_;
  int last_num_collectives_ = 0;
};

// Global L2 norm of all gradients, each parameter counted once across the job: dense gradients
// (identical on all ranks after synchronization) locally, expert gradients summed over the
// expert-parallel group (which holds every expert exactly once). Collective over its host
// communicator `host_expert` (one scalar all-reduce).
double global_grad_norm(const std::vector<at::Tensor>& dense_params,
                        const std::vector<at::Tensor>& expert_params,
                        comm::Communicator& host_expert);

// The clip factor min(1, max_norm / (norm + 1e-6)); 1 when max_norm <= 0 (clipping off).
double clip_factor(double norm, double max_norm);

// Multiplies every gradient by clip_factor(norm, max_norm); returns the factor. (The trainer
// passes the factor to Optimizer::step instead, which fuses it into the update.)
double clip_gradients(const std::vector<at::Tensor>& params, double norm, double max_norm);

}  // namespace switchyard::train
