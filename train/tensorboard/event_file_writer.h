// File: train/tensorboard/event_file_writer.h
//
// One TensorBoard event file: <dir>/events.out.tfevents.<unix seconds>.<hostname>.<pid>, a
// TFRecord file (record_writer.h) of serialized Event messages (event.proto), the first of which
// holds file_version "brain.Event:2". TensorBoard reads every file of a directory whose name
// contains "tfevents", in name order, as one run.
#pragma once

#include <cstdint>
#include <string>

#include "train/tensorboard/event.pb.h"
#include "train/tensorboard/record_writer.h"

namespace switchyard::tensorboard {

// "events.out.tfevents.<unix_seconds>.<host>.<pid>".
std::string event_file_name(int64_t unix_seconds, const std::string& host, int64_t pid);

// Seconds since the Unix epoch, now, with sub-second precision (an Event's wall_time).
double wall_time_now();

class EventFileWriter {
 public:
  // Creates `dir` (and its parents) and a new event file in it, named for this time, host and
  // process (".1", ".2", ... appended if that name exists already), then writes the version
  // event. Throws Error naming the directory or the file when either cannot be created or
  // written.
  explicit EventFileWriter(const std::string& dir);

  // Serializes `event` and writes it as one record, handed to the operating system before this
  // returns. Throws Error naming the file when it cannot be written (a full disk).
  void write(const Event& event);

  const std::string& path() const { return records_.path(); }

 private:
  static RecordWriter open_new_file(const std::string& dir);

  RecordWriter records_;
};

}  // namespace switchyard::tensorboard
