#include "train/tensorboard/metric_tags.h"

#include <cstddef>

namespace switchyard::tensorboard {
namespace {

void collect(const nlohmann::json& value, const std::string& tag, std::vector<TaggedScalar>* out) {
  // is_number() is false for booleans, strings and null: those are skipped.
  if (value.is_number()) {
    out->push_back({tag, value.get<double>()});
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      collect(it.value(), tag.empty() ? it.key() : tag + "/" + it.key(), out);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string index = std::to_string(i);
      collect(value[i], tag.empty() ? index : tag + "/" + index, out);
    }
  }
}

bool numeric_array(const nlohmann::json& value) {
  if (!value.is_array() || value.empty()) return false;
  for (const auto& v : value) {
    if (!v.is_number()) return false;
  }
  return true;
}

}  // namespace

std::vector<TaggedScalar> scalar_values(const nlohmann::json& record) {
  std::vector<TaggedScalar> out;
  if (!record.is_object()) return out;
  for (auto it = record.begin(); it != record.end(); ++it) {
    if (it.key() == "step") continue;  // the step of every value, not a value
    collect(it.value(), it.key(), &out);
  }
  return out;
}

std::vector<TaggedHistogram> expert_load_histograms(const nlohmann::json& record) {
  std::vector<TaggedHistogram> out;
  if (!record.is_object()) return out;
  const auto moe = record.find("moe");
  if (moe == record.end() || !moe->is_object()) return out;
  const auto layers = moe->find("layers");
  if (layers == moe->end() || !layers->is_array()) return out;
  for (size_t i = 0; i < layers->size(); ++i) {
    const nlohmann::json& layer = (*layers)[i];
    if (!layer.is_object()) continue;
    const auto load = layer.find("tokens_per_expert");
    if (load == layer.end() || !numeric_array(*load)) continue;
    out.push_back({"moe/layers/" + std::to_string(i) + "/tokens_per_expert",
                   expert_load_histogram(load->get<std::vector<double>>())});
  }
  return out;
}

HistogramProto expert_load_histogram(const std::vector<double>& tokens_per_expert) {
  HistogramProto h;
  double num = 0;
  double sum = 0;
  double sum_squares = 0;
  bool any = false;
  for (size_t e = 0; e < tokens_per_expert.size(); ++e) {
    const double count = tokens_per_expert[e];
    const double index = static_cast<double>(e);
    h.add_bucket_limit(index + 0.5);
    h.add_bucket(count);
    num += count;
    sum += count * index;
    sum_squares += count * index * index;
    if (count > 0) {
      if (!any) h.set_min(index);
      h.set_max(index);
      any = true;
    }
  }
  h.set_num(num);
  h.set_sum(sum);
  h.set_sum_squares(sum_squares);
  return h;
}

}  // namespace switchyard::tensorboard
