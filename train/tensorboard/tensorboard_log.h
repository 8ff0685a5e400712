// File: train/tensorboard/tensorboard_log.h
//
// The metrics of a run as TensorBoard event files (docs/tensorboard.md): each metrics.jsonl
// record (train/metrics.h) given to write_record() becomes one Event of its step.
//
// Tags:
//   * every number in the record is a scalar (stored as float32) tagged with its JSON path, keys
//     and array indices joined with '/': "loss", "lr", "seconds/forward",
//     "aux/layer1/load_balancing" (a key may hold '/' itself), "moe/layers/0/load_cv",
//     "moe/layers/0/tokens_per_expert/3", "moe/a2a/inter_node_bytes",
//     "routing_probe/layers/1/fluctuation", "val_loss";
//   * the top-level "step" is the Event's step, not a scalar; booleans ("skipped", "final"),
//     strings and nulls (a routing probe's first fluctuation) are skipped;
//   * each MoE layer i also gets a histogram "moe/layers/<i>/tokens_per_expert" of its expert
//     load, one bucket per expert (metric_tags.h: expert_load_histogram).
//
// Files: <dir>/events.out.tfevents.<unix seconds>.<hostname>.<pid>, a new one per TensorBoardLog
// (event_file_writer.h). A resumed run adds a file; mark_session_start() at its first step makes
// TensorBoard drop the values that earlier files hold from that step on (written before a stop,
// after the checkpoint the run resumed from), so that each step shows once.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "train/tensorboard/event_file_writer.h"

namespace switchyard::tensorboard {

class TensorBoardLog {
 public:
  // Creates `dir` and a new event file in it. Throws Error naming the directory or the file.
  explicit TensorBoardLog(const std::string& dir);

  // Writes the record's scalars and histograms as one Event at step record["step"] (an integer)
  // and wall time now, handed to the operating system before returning. A record with nothing
  // to write writes nothing. Throws Error naming the file when it cannot be written (a full
  // disk) or when the record is not an object with an integer "step".
  void write_record(const nlohmann::json& record);
  // The same with a given wall time (seconds since the Unix epoch).
  void write_record(const nlohmann::json& record, double wall_time);

  // Writes a SessionLog START event at `first_step`, the step of the first record this log will
  // be given: TensorBoard then drops the values of earlier event files in the directory at steps
  // >= first_step. For a run resumed from a checkpoint after N steps, first_step = N + 1.
  void mark_session_start(int64_t first_step);
  void mark_session_start(int64_t first_step, double wall_time);

  // The event file written.
  const std::string& path() const { return file_.path(); }

 private:
  EventFileWriter file_;
};

}  // namespace switchyard::tensorboard
