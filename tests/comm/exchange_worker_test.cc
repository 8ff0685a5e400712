// ExchangeWorker (comm/exchange_worker.h): submission order, exceptions through the future,
// no-grad tasks, and a destructor that drains. Part of comm_unit_test, which `make test-tsan`
// runs under ThreadSanitizer.
#include "comm/exchange_worker.h"

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

namespace switchyard::comm {
namespace {

TEST(ExchangeWorker, RunsTasksInSubmissionOrderOffTheCallersThread) {
  ExchangeWorker worker;
  std::vector<int> order;  // written only by the worker thread; read after every get()
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  std::vector<std::future<at::Tensor>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(worker.submit([i, &order, &on_caller, caller] {
      if (std::this_thread::get_id() == caller) ++on_caller;
      order.push_back(i);
      return at::full({2}, static_cast<double>(i));
    }));
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(futures[i].get()[1].item<double>(), i);
  }
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(on_caller.load(), 0);
}

TEST(ExchangeWorker, DeliversATasksExceptionAndKeepsRunning) {
  ExchangeWorker worker;
  auto failed = worker.submit([]() -> at::Tensor { throw std::runtime_error("rank 3 timed out"); });
  auto next = worker.submit([] { return at::ones({1}); });
  try {
    failed.get();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "rank 3 timed out");
  }
  EXPECT_EQ(next.get().item<double>(), 1.0);
}

TEST(ExchangeWorker, TasksRunWithoutGradient) {
  ExchangeWorker worker;
  at::Tensor w = at::ones({3}).requires_grad_(true);
  at::Tensor out = worker
                       .submit([w] {
                         EXPECT_FALSE(c10::GradMode::is_enabled());
                         return w * 2;
                       })
                       .get();
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(c10::GradMode::is_enabled());  // the caller's mode is untouched
}

TEST(ExchangeWorker, DestructorRunsThePendingTasks) {
  std::atomic<int> ran{0};
  {
    ExchangeWorker worker;
    for (int i = 0; i < 20; ++i) {
      worker.submit([&ran] {
        std::this_thread::yield();
        ++ran;
        return at::Tensor();
      });
    }
  }
  EXPECT_EQ(ran.load(), 20);
}

}  // namespace
}  // namespace switchyard::comm
