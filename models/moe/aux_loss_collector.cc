#include "models/moe/aux_loss_collector.h"

#include <ATen/ATen.h>

#include "comm/communicator.h"
#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::models {

void AuxLossCollector::add(int64_t layer, std::string name, at::Tensor value, double coeff) {
  SY_CHECK(value.defined() && value.numel() == 1) << "aux loss '" << name << "' must be a scalar";
  entries_.push_back({layer, std::move(name), std::move(value), coeff});
}

at::Tensor AuxLossCollector::weighted_sum() const {
  at::Tensor total;
  for (const AuxLossEntry& e : entries_) {
    at::Tensor term = e.value.reshape({}) * e.coeff;
    total = total.defined() ? total + term : term;
  }
  return total.defined() ? total : at::zeros({}, at::kFloat);
}

std::map<std::string, double> AuxLossCollector::summary() const {
  std::map<std::string, std::pair<double, int>> acc;
  for (const AuxLossEntry& e : entries_) {
    auto& a = acc[e.name];
    a.first += e.value.detach().to(at::kDouble).item<double>();
    a.second += 1;
  }
  std::map<std::string, double> out;
  for (const auto& [name, a] : acc) out[name] = a.first / a.second;
  return out;
}

std::map<std::string, double> AuxLossCollector::reduce_mean(comm::Communicator& group) const {
  std::map<std::string, double> local = summary();
  std::vector<double> values;  // [names]
  for (const auto& [name, v] : local) values.push_back(v);
  values = comm::all_reduce_sum(group, std::move(values));
  std::map<std::string, double> out;
  size_t i = 0;
  for (const auto& [name, v] : local) out[name] = values[i++] / group.size();
  return out;
}

}  // namespace switchyard::models

namespace switchyard::models {

std::vector<std::pair<std::string, double>> AuxLossCollector::reduce_mean_per_layer(
    comm::Communicator& group) const {
  if (entries_.empty()) return {};
  std::vector<double> values;  // [entries]
  for (const AuxLossEntry& e : entries_) {
    values.push_back(e.value.detach().to(at::kDouble).item<double>());
  }
  values = comm::all_reduce_sum(group, std::move(values));
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    out.emplace_back("layer" + std::to_string(entries_[i].layer) + "/" + entries_[i].name,
                     values[i] / group.size());
  }
  return out;
}

}  // namespace switchyard::models
