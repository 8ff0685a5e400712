// File: comm/traffic.h
//
// Traffic accounting of the all-to-all strategies. A "message" is one non-empty payload
// transfer from this rank to another rank in one phase of an exchange (self copies and empty
// transfers are not messages); bytes are payload bytes. Intra-node / inter-node is decided by the
// Topology (emulated nodes count as nodes). The count exchange that builds an AllToAllLayout is
// metadata and is not counted; neither are layout verification messages.
#pragma once

#include <cstdint>
#include <string>

namespace switchyard::comm {

struct TrafficCounters {
  int64_t intra_node_messages = 0;
  int64_t intra_node_bytes = 0;
  int64_t inter_node_messages = 0;
  int64_t inter_node_bytes = 0;
  int64_t exchanges = 0;  // number of exchange() calls recorded

  // Records one transfer of `bytes` to another rank; ignores empty transfers.
  void record_send(bool same_node, int64_t bytes);
  TrafficCounters& operator+=(const TrafficCounters& other);
  bool operator==(const TrafficCounters& other) const;
  // "intra 3 msgs / 1.5 KiB, inter 2 msgs / 4 KiB, 1 exchanges".
  std::string to_string() const;
};

TrafficCounters operator-(const TrafficCounters& a, const TrafficCounters& b);

}  // namespace switchyard::comm
