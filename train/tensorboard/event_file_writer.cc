#include "train/tensorboard/event_file_writer.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <system_error>

#include "core/errors.h"

namespace switchyard::tensorboard {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

std::string event_file_name(int64_t unix_seconds, const std::string& host, int64_t pid) {
  return "events.out.tfevents." + std::to_string(unix_seconds) + "." + host + "." +
         std::to_string(pid);
}

double wall_time_now() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

RecordWriter EventFileWriter::open_new_file(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error("cannot create TensorBoard directory '" + dir + "': " + ec.message());
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const std::string base =
      (fs::path(dir) / event_file_name(seconds.count(), host_name(), ::getpid())).string();
  std::string path = base;
  // A second writer of this process within the same second gets the next free suffix.
  for (int n = 1; fs::exists(path, ec); ++n) path = base + "." + std::to_string(n);
  return RecordWriter(path);
}

EventFileWriter::EventFileWriter(const std::string& dir) : records_(open_new_file(dir)) {
  Event version;
  version.set_wall_time(wall_time_now());
  version.set_file_version("brain.Event:2");
  write(version);
}

void EventFileWriter::write(const Event& event) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) {
    throw Error("cannot write TensorBoard event file '" + path() + "': event not serializable");
  }
  records_.write(bytes);
}

}  // namespace switchyard::tensorboard
