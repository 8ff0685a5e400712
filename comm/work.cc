#include "comm/work.h"

namespace switchyard::comm {
namespace {

class CompletedWork : public Work {
 public:
  explicit CompletedWork(std::exception_ptr failure) : failure_(std::move(failure)) {}
  bool is_completed() override { return true; }
  void wait(std::chrono::milliseconds /*timeout*/) override {
    if (failure_) std::rethrow_exception(failure_);
  }
  void synchronize_stream() override {}
  std::exception_ptr exception() const override { return failure_; }

 private:
  std::exception_ptr failure_;
};

}  // namespace

std::shared_ptr<Work> make_completed_work(std::exception_ptr failure) {
  return std::make_shared<CompletedWork>(std::move(failure));
}

}  // namespace switchyard::comm
