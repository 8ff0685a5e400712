// File: train/data/chunk_encoder.h
//
// Encodes text chunks (document_chunker.h) on N threads and hands the results back in input
// order on the calling thread, so that the writer sees exactly the sequence a single thread
// would produce. At most 2N chunks are in flight: memory stays bounded however long the input.
// A chunk's ids are the concatenation of tokenizer.encode(line) over its lines, in order (each
// line with its '\n'; a long line's pieces one by one).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "train/data/document_chunker.h"
#include "train/data/tokenizer.h"

namespace switchyard::train::data {

struct EncodedChunk {
  TextChunk chunk;
  std::vector<int64_t> ids;
  // For each entry of chunk.document_ends, the number of ids before that document end.
  std::vector<size_t> document_id_ends;
};

// The ids of `chunk`'s lines into e->ids, and e->document_id_ends (both cleared first).
void encode_chunk(const Tokenizer& tokenizer, EncodedChunk* e);

class ChunkEncoder {
 public:
  using Sink = std::function<void(EncodedChunk&)>;

  // threads == 1 encodes on the calling thread, inside submit().
  ChunkEncoder(const Tokenizer& tokenizer, int threads, Sink sink);
  ~ChunkEncoder();  // stops the workers (abandoning chunks not yet handed to the sink)
  ChunkEncoder(const ChunkEncoder&) = delete;
  ChunkEncoder& operator=(const ChunkEncoder&) = delete;

  // Queues `chunk` (taking its contents); hands finished chunks to the sink in order, waiting
  // for one when 2N are in flight. An exception of the tokenizer or the sink comes out here.
  void submit(TextChunk& chunk);
  // Hands every remaining chunk to the sink, in order.
  void finish();

 private:
  enum class State { kFree, kPending, kDone };
  struct Slot {
    State state = State::kFree;
    EncodedChunk data;
    std::exception_ptr error;
  };
  void work();
  void sink_next(std::unique_lock<std::mutex>& lock);  // waits for the oldest chunk, sinks it

  const Tokenizer& tokenizer_;
  Sink sink_;
  std::vector<Slot> slots_;
  std::deque<uint64_t> pending_;  // sequence numbers waiting for a worker
  uint64_t submitted_ = 0, sunk_ = 0;
  std::mutex mutex_;
  std::condition_variable work_, done_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  EncodedChunk inline_;  // threads == 1
};

}  // namespace switchyard::train::data
