#include "train/tensorboard/tensorboard_log.h"

#include <cstdint>
#include <utility>

#include "core/errors.h"
#include "train/tensorboard/metric_tags.h"

namespace switchyard::tensorboard {

TensorBoardLog::TensorBoardLog(const std::string& dir) : file_(dir) {}

void TensorBoardLog::write_record(const nlohmann::json& record) {
  write_record(record, wall_time_now());
}

void TensorBoardLog::write_record(const nlohmann::json& record, double wall_time) {
  const auto step = record.is_object() ? record.find("step") : record.end();
  if (!record.is_object() || step == record.end() || !step->is_number_integer()) {
    throw Error("cannot write TensorBoard event file '" + path() +
                "': metrics record without an integer \"step\"");
  }
  Event event;
  event.set_wall_time(wall_time);
  event.set_step(step->get<int64_t>());
  Summary* summary = event.mutable_summary();
  for (const TaggedScalar& s : scalar_values(record)) {
    Summary::Value* v = summary->add_value();
    v->set_tag(s.tag);
    v->set_simple_value(static_cast<float>(s.value));
  }
  for (TaggedHistogram& h : expert_load_histograms(record)) {
    Summary::Value* v = summary->add_value();
    v->set_tag(h.tag);
    *v->mutable_histo() = std::move(h.histogram);
  }
  if (summary->value_size() == 0) return;
  file_.write(event);
}

void TensorBoardLog::mark_session_start(int64_t first_step) {
  mark_session_start(first_step, wall_time_now());
}

void TensorBoardLog::mark_session_start(int64_t first_step, double wall_time) {
  Event event;
  event.set_wall_time(wall_time);
  event.set_step(first_step);
  event.mutable_session_log()->set_status(SessionLog::START);
  file_.write(event);
}

}  // namespace switchyard::tensorboard
