// File: models/moe/aux_loss_collector.h
//
// AuxLossCollector: the explicit per-step sink of auxiliary losses (no globals). Owned by the
// caller (trainer or test), passed to the MoE layers by pointer; it must outlive them.
//
//   loss = task_loss + collector.weighted_sum();   // differentiable
//   auto means = collector.reduce_mean(*groups.world);   // collective, for logging
//   collector.clear();                              // once per step
//
// Threading: not thread-safe; one step at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace switchyard::comm {
class Communicator;
}

namespace switchyard::models {

struct AuxLossEntry {
  int64_t layer = 0;
  std::string name;  // "load_balancing", "seq_load_balancing", "z_loss", ...
  at::Tensor value;  // scalar, before the coefficient, differentiable
  double coeff = 0.0;
};

class AuxLossCollector {
 public:
  void add(int64_t layer, std::string name, at::Tensor value, double coeff);
  // sum_i coeff_i * value_i (float32 scalar; 0 without entries).
  at::Tensor weighted_sum() const;
  const std::vector<AuxLossEntry>& entries() const { return entries_; }
  // name -> mean over layers of the (detached) value, this rank only.
  std::map<std::string, double> summary() const;
  // Collective over `group` (a host communicator, comm/host_collectives.h): summary() averaged
  // over the group's ranks. Every rank must hold the
  // same entry names in the same order.
  std::map<std::string, double> reduce_mean(comm::Communicator& group) const;
  // Collective over `group`: every entry's value (before its coefficient) averaged over the
  // group's ranks, as "layer<L>/<name>" -> value, in entry order.
  std::vector<std::pair<std::string, double>> reduce_mean_per_layer(
      comm::Communicator& group) const;
  void clear() { entries_.clear(); }

 private:
  std::vector<AuxLossEntry> entries_;
};

}  // namespace switchyard::models
