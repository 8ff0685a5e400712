// File: train/tensorboard/metric_tags.h
//
// What of one metrics.jsonl record (train/metrics.h) becomes TensorBoard data, without writing
// anything: the numeric leaves as tagged scalars, and each MoE layer's tokens-per-expert array
// as a histogram. The naming rules are listed in tensorboard_log.h.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/tensorboard/event.pb.h"

namespace switchyard::tensorboard {

struct TaggedScalar {
  std::string tag;
  double value = 0;
};

struct TaggedHistogram {
  std::string tag;
  HistogramProto histogram;
};

// Every number in `record` (an object) except its top-level "step", in key order (objects) and
// index order (arrays); the tag is the path of keys and indices joined with '/'. Booleans,
// strings and nulls are skipped, as are empty objects and arrays.
std::vector<TaggedScalar> scalar_values(const nlohmann::json& record);

// One histogram per element i of record["moe"]["layers"] that holds a non-empty array of numbers
// "tokens_per_expert", tagged "moe/layers/<i>/tokens_per_expert".
std::vector<TaggedHistogram> expert_load_histograms(const nlohmann::json& record);

// The distribution of expert indices over the routed tokens, one bucket per expert: expert e's
// bucket spans (e - 0.5, e + 0.5] (bucket_limit e + 0.5) and holds tokens_per_expert[e]; num is
// the total, sum and sum_squares are those of the expert index over the tokens, min and max are
// the lowest and highest expert index that has tokens (both 0 when none has).
HistogramProto expert_load_histogram(const std::vector<double>& tokens_per_expert);

}  // namespace switchyard::tensorboard
