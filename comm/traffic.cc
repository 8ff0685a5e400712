#include "comm/traffic.h"

#include <sstream>

namespace switchyard::comm {
namespace {

std::string format_bytes(int64_t bytes) {
  std::ostringstream out;
  if (bytes >= (int64_t{1} << 20)) {
    out << static_cast<double>(bytes) / (1 << 20) << " MiB";
  } else if (bytes >= 1024) {
    out << static_cast<double>(bytes) / 1024 << " KiB";
  } else {
    out << bytes << " B";
  }
  return out.str();
}

}  // namespace

void TrafficCounters::record_send(bool same_node, int64_t bytes) {
  if (bytes <= 0) return;
  if (same_node) {
    ++intra_node_messages;
    intra_node_bytes += bytes;
  } else {
    ++inter_node_messages;
    inter_node_bytes += bytes;
  }
}

TrafficCounters& TrafficCounters::operator+=(const TrafficCounters& other) {
  intra_node_messages += other.intra_node_messages;
  intra_node_bytes += other.intra_node_bytes;
  inter_node_messages += other.inter_node_messages;
  inter_node_bytes += other.inter_node_bytes;
  exchanges += other.exchanges;
  return *this;
}

bool TrafficCounters::operator==(const TrafficCounters& other) const {
  return intra_node_messages == other.intra_node_messages &&
         intra_node_bytes == other.intra_node_bytes &&
         inter_node_messages == other.inter_node_messages &&
         inter_node_bytes == other.inter_node_bytes && exchanges == other.exchanges;
}

std::string TrafficCounters::to_string() const {
  std::ostringstream out;
  out << "intra " << intra_node_messages << " msgs / " << format_bytes(intra_node_bytes)
      << ", inter " << inter_node_messages << " msgs / " << format_bytes(inter_node_bytes) << ", "
      << exchanges << " exchanges";
  return out.str();
}

TrafficCounters operator-(const TrafficCounters& a, const TrafficCounters& b) {
  TrafficCounters d;
  d.intra_node_messages = a.intra_node_messages - b.intra_node_messages;
  d.intra_node_bytes = a.intra_node_bytes - b.intra_node_bytes;
  d.inter_node_messages = a.inter_node_messages - b.inter_node_messages;
  d.inter_node_bytes = a.inter_node_bytes - b.inter_node_bytes;
  d.exchanges = a.exchanges - b.exchanges;
  return d;
}

}  // namespace switchyard::comm
