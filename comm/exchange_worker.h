// File: comm/exchange_worker.h
//
// ExchangeWorker: one background thread that runs exchanges (any task returning a tensor) in the
// order they were submitted, so that the caller's thread computes while a collective progresses.
// Used by the pipelined MoE exchange (comm.overlap_chunks): the MPI backend advances a transfer
// only inside MPI calls, and this thread is the one that keeps calling them (Work::wait polls
// MPI_Test) while the experts run on the caller's thread.
//
// Contract:
//   * Tasks run one at a time, in submission order, on the worker thread. Collective ordering is
//     the caller's job: every rank submits the same exchanges in the same order.
//   * A task's exception is delivered by the future's get().
//   * The caller must not use the communicators a pending task uses (one thread at a time per
//     communicator), and with MPI_THREAD_SERIALIZED must not call MPI at all until the futures it
//     waits for are ready.
//   * Each task runs under at::NoGradGuard (the caller attaches the autograd history).
//   * The destructor waits for the pending tasks, then joins the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <ATen/core/Tensor.h>

namespace switchyard::comm {

class ExchangeWorker {
 public:
  ExchangeWorker();
  ~ExchangeWorker();
  ExchangeWorker(const ExchangeWorker&) = delete;
  ExchangeWorker& operator=(const ExchangeWorker&) = delete;

  std::future<at::Tensor> submit(std::function<at::Tensor()> task);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<at::Tensor()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::comm
