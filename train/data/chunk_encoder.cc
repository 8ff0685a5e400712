#include "train/data/chunk_encoder.h"

#include <utility>

namespace switchyard::train::data {

void encode_chunk(const Tokenizer& tokenizer, EncodedChunk* e) {
  const TextChunk& chunk = e->chunk;
  e->ids.clear();
  e->document_id_ends.clear();
  size_t line = 0;
  for (const uint32_t end : chunk.document_ends) {
    for (; line < end; ++line) tokenizer.encode(chunk.line(line), &e->ids);
    e->document_id_ends.push_back(e->ids.size());
  }
  for (; line < chunk.line_ends.size(); ++line) tokenizer.encode(chunk.line(line), &e->ids);
}

ChunkEncoder::ChunkEncoder(const Tokenizer& tokenizer, int threads, Sink sink)
    : tokenizer_(tokenizer), sink_(std::move(sink)) {
  if (threads <= 1) return;
  slots_.resize(2 * static_cast<size_t>(threads));
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ChunkEncoder::~ChunkEncoder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ChunkEncoder::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    const uint64_t seq = pending_.front();
    pending_.pop_front();
    Slot& slot = slots_[seq % slots_.size()];
    lock.unlock();
    // The slot is this worker's alone until it is marked done.
    try {
      encode_chunk(tokenizer_, &slot.data);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    slot.state = State::kDone;
    done_.notify_all();
  }
}

void ChunkEncoder::sink_next(std::unique_lock<std::mutex>& lock) {
  Slot& slot = slots_[sunk_ % slots_.size()];
  done_.wait(lock, [&] { return slot.state == State::kDone; });
  lock.unlock();
  if (slot.error) std::rethrow_exception(slot.error);
  sink_(slot.data);  // on the calling thread, outside the lock: workers go on meanwhile
  lock.lock();
  slot.state = State::kFree;
  ++sunk_;
}

void ChunkEncoder::submit(TextChunk& chunk) {
  if (workers_.empty()) {
    std::swap(inline_.chunk, chunk);
    encode_chunk(tokenizer_, &inline_);
    sink_(inline_);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  while (submitted_ - sunk_ >= slots_.size()) sink_next(lock);
  Slot& slot = slots_[submitted_ % slots_.size()];
  std::swap(slot.data.chunk, chunk);  // the caller gets an old chunk's buffers back to reuse
  slot.error = nullptr;
  slot.state = State::kPending;
  pending_.push_back(submitted_++);
  work_.notify_one();
  // Hand over whatever is already finished, without waiting.
  while (sunk_ < submitted_ && slots_[sunk_ % slots_.size()].state == State::kDone) {
    sink_next(lock);
  }
}

void ChunkEncoder::finish() {
  if (workers_.empty()) return;
  std::unique_lock<std::mutex> lock(mutex_);
  while (sunk_ < submitted_) sink_next(lock);
}

}  // namespace switchyard::train::data
