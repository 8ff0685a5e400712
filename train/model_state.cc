#include "train/model_state.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "core/check.h"
#include "core/errors.h"

namespace switchyard::train {
namespace {

const char* kExpAvg = "optim.exp_avg.";
const char* kExpAvgSq = "optim.exp_avg_sq.";
const char* kStep = "optim.step.";
const char* kBuffer = "buffer.";

// (stored name, view of the live tensor) for every stored tensor of `slot`.
std::vector<std::pair<std::string, at::Tensor>> stored_views(const ParamSlot& slot,
                                                             const at::Tensor& t) {
  if (!slot.expert) return {{slot.name, t}};
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (int64_t i = 0; i < t.size(0); ++i) {
    out.emplace_back(expert_tensor_name(slot.name, slot.first_expert + i), t.select(0, i));
  }
  return out;
}

// A stored tensor the model's `live` tensor will take: same shape, floating point.
void require_matches(const std::string& name, const at::Tensor& stored, const at::Tensor& live) {
  if (stored.sizes() != live.sizes()) {
    throw ConfigError("checkpoint", "tensor '" + name + "' has shape " + c10::str(stored.sizes()) +
                                        ", the model's is " + c10::str(live.sizes()));
  }
  if (!at::isFloatingType(stored.scalar_type())) {
    throw ConfigError("checkpoint", "tensor '" + name + "' has dtype " +
                                        std::string(c10::toString(stored.scalar_type())) +
                                        ", the model needs a floating-point one");
  }
}

const at::Tensor& find(const std::map<std::string, at::Tensor>& stored, const std::string& name) {
  const auto it = stored.find(name);
  if (it == stored.end()) {
    throw ConfigError("checkpoint", "has no tensor '" + name + "' (saved by a different model?)");
  }
  return it->second;
}

}  // namespace

std::string expert_tensor_name(const std::string& name, int64_t global_id) {
  const auto dot = name.rfind('.');
  SY_CHECK(dot != std::string::npos) << name;
  return name.substr(0, dot) + "." + std::to_string(global_id) + name.substr(dot);
}

NamedTensors checkpoint_tensors(const std::vector<ParamSlot>& slots,
                                const std::map<std::string, Optimizer::ParamState>& optimizer_state,
                                bool dense,
                                bool experts) {
  NamedTensors out;
  for (const ParamSlot& slot : slots) {
    if (slot.expert ? !experts : !dense) continue;
    for (auto& [name, view] : stored_views(slot, slot.tensor.detach()))
      out.emplace_back(name, view);
    const auto it = optimizer_state.find(slot.name);
    if (it == optimizer_state.end()) continue;
    const Optimizer::ParamState& s = it->second;
    const auto avg = stored_views(slot, s.exp_avg);
    const auto avg_sq = stored_views(slot, s.exp_avg_sq);
    for (size_t i = 0; i < avg.size(); ++i) {
      out.emplace_back(kExpAvg + avg[i].first, avg[i].second);
      out.emplace_back(kExpAvgSq + avg_sq[i].first, avg_sq[i].second);
      out.emplace_back(kStep + avg[i].first, at::full({1}, s.step, at::kLong));
    }
  }
  return out;
}

NamedTensors buffer_tensors(const std::vector<std::pair<std::string, at::Tensor>>& buffers) {
  NamedTensors out;
  for (const auto& [name, t] : buffers) out.emplace_back(kBuffer + name, t.detach().to(at::kCPU));
  return out;
}

std::vector<std::string> restore_buffers(
    const std::map<std::string, at::Tensor>& stored,
    const std::vector<std::pair<std::string, at::Tensor>>& buffers,
    bool required) {
  at::NoGradGuard no_grad;
  std::vector<std::string> missing;
  for (const auto& [name, live] : buffers) {
    const auto it = stored.find(kBuffer + name);
    if (it == stored.end()) {
      if (required) throw ConfigError("checkpoint", "has no buffer '" + name + "'");
      missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != live.sizes()) {
      throw ConfigError("checkpoint", "buffer '" + name + "' has shape " +
                                          c10::str(it->second.sizes()) + ", the model's is " +
                                          c10::str(live.sizes()));
    }
    live.detach().copy_(it->second);  // to the live buffer's device and dtype
  }
  return missing;
}

std::map<std::string, Optimizer::ParamState> restore_from_checkpoint(
    const std::map<std::string, at::Tensor>& stored, const std::vector<ParamSlot>& slots) {
  at::NoGradGuard no_grad;
  std::map<std::string, Optimizer::ParamState> state;
  for (const ParamSlot& slot : slots) {
    at::Tensor live = slot.tensor.detach();
    const auto views = stored_views(slot, live);
    bool has_state = true;
    for (const auto& [name, view] : views) {
      const at::Tensor& value = find(stored, name);
      require_matches(name, value, view);
      view.copy_(value);
      has_state = has_state && stored.count(kExpAvg + name) > 0;
    }
    if (!has_state) continue;
    Optimizer::ParamState s;
    s.exp_avg = at::empty_like(live);
    s.exp_avg_sq = at::empty_like(live);
    const auto avg = stored_views(slot, s.exp_avg);
    const auto avg_sq = stored_views(slot, s.exp_avg_sq);
    for (size_t i = 0; i < views.size(); ++i) {
      const at::Tensor& m1 = find(stored, kExpAvg + views[i].first);
      const at::Tensor& m2 = find(stored, kExpAvgSq + views[i].first);
      const at::Tensor& step = find(stored, kStep + views[i].first);
      require_matches(kExpAvg + views[i].first, m1, avg[i].second);
      require_matches(kExpAvgSq + views[i].first, m2, avg_sq[i].second);
      if (step.numel() != 1 || step.scalar_type() != at::kLong) {
        throw ConfigError("checkpoint", std::string("tensor '") + kStep + views[i].first +
                                            "' is not one int64 step count");
      }
      avg[i].second.copy_(m1);
      avg_sq[i].second.copy_(m2);
      s.step = step.item<int64_t>();
    }
    state[slot.name] = s;
  }
  return state;
}

}  // namespace switchyard::train
