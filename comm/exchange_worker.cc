#include "comm/exchange_worker.h"

#include <ATen/core/grad_mode.h>

namespace switchyard::comm {

ExchangeWorker::ExchangeWorker() : thread_([this] { run(); }) {}

ExchangeWorker::~ExchangeWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

std::future<at::Tensor> ExchangeWorker::submit(std::function<at::Tensor()> task) {
  std::packaged_task<at::Tensor()> packaged([task = std::move(task)] {
    at::NoGradGuard no_grad;
    return task();
  });
  std::future<at::Tensor> result = packaged.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(packaged));
  }
  ready_.notify_one();
  return result;
}

void ExchangeWorker::run() {
  for (;;) {
    std::packaged_task<at::Tensor()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();  // stores the result or the exception in the future
  }
}

}  // namespace switchyard::comm
