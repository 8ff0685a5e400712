// NCCL timeouts (ctest label `gpu`; 2 ranks, one GPU each; skipped with fewer than 2 GPUs). One
// rank skips a collective: the other gets CommTimeoutError, naming backend, operation, rank,
// sequence number and group, within the timeout plus a margin, and its communicator is broken
// afterwards (ncclCommAbort ended the stuck kernel; every later call throws CommError). Mirrors
// tests/comm/timeout_test.cc (the MPI backend), with the two ways an overdue NCCL operation is
// found: by the thread waiting on it (Work::wait) and by the watchdog thread alone.
//
// Each test isolates one path: with a watchdog interval far beyond the test only the waiting
// thread can time the operation out, and without a waiting thread only the watchdog can.
//
// With one GPU (where the two-rank tests skip), NcclStalledStream runs the watchdog on a one-rank
// communicator whose caller stream is held past the timeout, so the operation cannot start.
// CMakeLists.txt runs the two suites as separate ctest entries: each skips all or nothing.
//
// The skipping rank never destroys its communicator: its peer aborted its side, and
// ncclCommDestroy could wait for that peer. It is kept until the process exits.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <cuda_runtime.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/comm_error.h"
#include "comm/nccl/nccl_communicator.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/testing/mpi_world.h"

namespace switchyard::comm {
namespace {

using switchyard::testing::visible_cuda_devices;
using switchyard::testing::world_rank;
using switchyard::testing::world_size;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTimeout{2000};
// Generous: the abort (ncclCommAbort) runs before the error is thrown.
constexpr std::chrono::milliseconds kMargin{10000};
constexpr std::chrono::milliseconds kNeverPolls{600000};  // a watchdog that stays asleep

#define SKIP_UNLESS_TWO_RANKS_ON_TWO_GPUS()                                          \
  SY_SKIP_UNLESS_CUDA_DEVICES(world_size(), "NCCL needs one distinct GPU per rank"); \
  if (world_size() < 2) GTEST_SKIP() << "needs 2 ranks (one skips the collective)"

at::Device my_device() {
  return at::Device(at::kCUDA,
                    static_cast<c10::DeviceIndex>(world_rank() % visible_cuda_devices()));
}

// bootstrap: MPI_COMM_WORLD (one communicator over the ranks) or MPI_COMM_SELF (one per rank).
// caller: the stream every operation waits for (nullptr: the legacy default stream).
std::shared_ptr<NcclCommunicator> make_nccl(const std::string& name,
                                            std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds watchdog_interval,
                                            MPI_Comm bootstrap = MPI_COMM_WORLD,
                                            cudaStream_t caller = nullptr) {
  const at::Device device = my_device();
  EXPECT_EQ(cudaSetDevice(device.index()), cudaSuccess);
  NcclCommunicatorOptions options;
  options.name = name;
  options.timeout = timeout;
  options.on_timeout = TimeoutAction::kThrow;
  options.device = device.index();
  options.watchdog_interval = watchdog_interval;
  options.caller_stream = [caller] { return caller; };
  return NcclCommunicator::create(bootstrap, options);
}

// Kept (never destroyed) until the process exits; see the file comment.
void keep_until_exit(std::shared_ptr<NcclCommunicator> comm) {
  static auto* kept = new std::vector<std::shared_ptr<NcclCommunicator>>();
  kept->push_back(std::move(comm));
}

at::Tensor ones_on_device(int64_t n) {  // [n] float32
  return at::ones({n}, at::TensorOptions().dtype(at::kFloat).device(my_device()));
}

// #0 on every rank: the connections are up, so #1 hangs only for want of the skipping rank.
void warm_up(NcclCommunicator& comm) {
  at::Tensor t = ones_on_device(4);
  // Filled on LibTorch's stream: ready before any stream the communicator may wait for.
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  comm.all_reduce(t)->wait();
  EXPECT_TRUE(t.cpu().equal(at::full({4}, static_cast<float>(comm.size()))));
}

std::string group_text(const NcclCommunicator& comm) {
  return "nccl all_reduce #1 on group '" + comm.name() + "' (rank " + std::to_string(comm.rank()) +
         " of " + std::to_string(comm.size()) + ")";
}

void expect_broken(NcclCommunicator& comm) {
  EXPECT_TRUE(comm.broken());
  at::Tensor again = ones_on_device(1);
  EXPECT_THAT([&] { comm.all_reduce(again); },
              ThrowsMessage<CommError>(
                  HasSubstr("communicator is broken by an earlier timeout (" + group_text(comm))));
}

TEST(NcclWatchdog, SkippedCollectiveThrowsTypedTimeoutFromWait) {
  SKIP_UNLESS_TWO_RANKS_ON_TWO_GPUS();
  auto comm = make_nccl("timeout_group", kTimeout, kNeverPolls);
  const int skipper = comm->size() - 1;
  warm_up(*comm);
  if (comm->rank() != skipper) {
    at::Tensor t = ones_on_device(4);
    const auto start = Clock::now();
    try {
      comm->all_reduce(t)->wait();  // #1: the skipper never joins
      ADD_FAILURE() << "collective completed without the skipping rank";
    } catch (const CommTimeoutError& e) {
      const auto elapsed = Clock::now() - start;
      EXPECT_GE(elapsed, kTimeout);
      EXPECT_LE(elapsed, kTimeout + kMargin);
      EXPECT_EQ(e.context().backend, "nccl");
      EXPECT_EQ(e.context().op, "all_reduce");
      EXPECT_EQ(e.context().seq, 1);
      EXPECT_EQ(e.context().rank, comm->rank());
      EXPECT_EQ(e.context().group, "timeout_group");
      EXPECT_EQ(e.timeout(), kTimeout);
      EXPECT_THAT(e.what(), HasSubstr(group_text(*comm)));
      EXPECT_THAT(e.what(), HasSubstr("timed out after 2000 ms"));
    }
    expect_broken(*comm);
  } else {
    keep_until_exit(comm);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Nobody waits on the operation: the watchdog thread finds it overdue by itself, breaks the
// communicator and completes the Work with the CommTimeoutError.
TEST(NcclWatchdog, WatchdogAloneTimesOutAnUnwaitedOperation) {
  SKIP_UNLESS_TWO_RANKS_ON_TWO_GPUS();
  auto comm = make_nccl("watchdog_group", kTimeout, std::chrono::milliseconds(100));
  const int skipper = comm->size() - 1;
  warm_up(*comm);
  if (comm->rank() != skipper) {
    at::Tensor t = ones_on_device(4);
    const auto start = Clock::now();
    std::shared_ptr<Work> work = comm->all_reduce(t);  // #1: the skipper never joins
    while (!comm->broken() && Clock::now() - start < kTimeout + kMargin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(comm->broken()) << "the watchdog did not act within the timeout + margin";
    EXPECT_GE(elapsed, kTimeout);
    EXPECT_LE(elapsed, kTimeout + kMargin);
    // State::on_timeout marks the communicator broken and aborts it before it stores the
    // error in the Work: give it that moment. (A Work polled inside that window sees its end
    // event complete, the kernel having been aborted, and reports success; this test does not
    // probe that race.)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(work->is_completed());
    ASSERT_NE(work->exception(), nullptr);
    try {
      work->wait();
      ADD_FAILURE() << "wait() returned after the watchdog timed the operation out";
    } catch (const CommTimeoutError& e) {
      EXPECT_EQ(e.context().op, "all_reduce");
      EXPECT_EQ(e.context().seq, 1);
      EXPECT_EQ(e.context().group, "watchdog_group");
      EXPECT_EQ(e.timeout(), kTimeout);
      EXPECT_THAT(e.what(), HasSubstr(group_text(*comm)));
      EXPECT_THAT(e.what(), HasSubstr("timed out after 2000 ms"));
    }
    expect_broken(*comm);
  } else {
    keep_until_exit(comm);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// wait(timeout) counts its own budget from the call, whatever the operation's timeout.
TEST(NcclWatchdog, WaitTimeoutArgumentOverridesOperationTimeout) {
  SKIP_UNLESS_TWO_RANKS_ON_TWO_GPUS();
  auto comm = make_nccl("short_wait", std::chrono::milliseconds(600000), kNeverPolls);
  warm_up(*comm);
  if (comm->rank() != 0) {
    const auto start = Clock::now();
    try {
      comm->barrier()->wait(std::chrono::milliseconds(300));  // rank 0 never joins
      ADD_FAILURE() << "barrier completed without rank 0";
    } catch (const CommTimeoutError& e) {
      EXPECT_EQ(e.timeout(), std::chrono::milliseconds(300));
      EXPECT_EQ(e.context().op, "barrier");
      EXPECT_THAT(e.what(), HasSubstr("timed out after 300 ms"));
    }
    EXPECT_LE(Clock::now() - start, std::chrono::milliseconds(300) + kMargin);
    EXPECT_TRUE(comm->broken());
  } else {
    keep_until_exit(comm);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Holds a stream (a host function enqueued on it blocks) until open() is called.
class StreamGate {
 public:
  static void CUDART_CB hold(void* gate) {
    auto* self = static_cast<StreamGate*>(gate);
    std::unique_lock<std::mutex> lock(self->mutex_);
    self->opened_.wait(lock, [self] { return self->open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// Opens `gate` after `hold`, from its own thread. The destructor (on every path out of a test)
// joins that thread and drains the stream, so the host function never outlives the gate.
class GateOpener {
 public:
  GateOpener(StreamGate& gate, cudaStream_t stream, std::chrono::milliseconds hold)
      : stream_(stream), thread_([&gate, hold] {
          std::this_thread::sleep_for(hold);
          gate.open();
        }) {}
  ~GateOpener() {
    thread_.join();
    cudaStreamSynchronize(stream_);  // the held work drains (its result does not matter here)
  }
  GateOpener(const GateOpener&) = delete;
  GateOpener& operator=(const GateOpener&) = delete;

 private:
  cudaStream_t stream_;
  std::thread thread_;
};

// One GPU, a one-rank communicator per rank (MPI_COMM_SELF). Every NCCL operation waits for the
// caller's stream; that stream is held by a host function for kHold > kTimeout, so the
// all-reduce cannot complete in time and nobody waits on it: the watchdog thread must time it
// out, break the communicator and store the CommTimeoutError in the Work. The gate opens by
// itself after kHold (ncclCommAbort may synchronize the device, which needs the stream to move).
TEST(NcclStalledStream, WatchdogTimesOutAnOperationBehindAStalledStream) {
  SY_SKIP_UNLESS_CUDA_DEVICES(1, "one GPU per process suffices: the communicators have one rank");
  constexpr std::chrono::milliseconds kHold{4000};
  ASSERT_EQ(cudaSetDevice(my_device().index()), cudaSuccess);
  struct OwnedStream {  // destroyed after everything declared below
    cudaStream_t stream = nullptr;
    ~OwnedStream() {
      if (stream != nullptr) cudaStreamDestroy(stream);
    }
  } owned;
  ASSERT_EQ(cudaStreamCreateWithFlags(&owned.stream, cudaStreamNonBlocking), cudaSuccess);
  const cudaStream_t stalled = owned.stream;
  auto comm =
      make_nccl("stalled_group", kTimeout, std::chrono::milliseconds(100), MPI_COMM_SELF, stalled);
  ASSERT_EQ(comm->size(), 1);
  warm_up(*comm);  // #0: the stream is free, so it completes
  at::Tensor t = ones_on_device(4);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // filled before the stream is held
  StreamGate gate;
  ASSERT_EQ(cudaLaunchHostFunc(stalled, &StreamGate::hold, &gate), cudaSuccess);
  GateOpener opener(gate, stalled, kHold);
  const auto start = Clock::now();
  std::shared_ptr<Work> work = comm->all_reduce(t);  // #1: waits for the held stream
  while (!comm->broken() && Clock::now() - start < kTimeout + kMargin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(comm->broken()) << "the watchdog did not act within the timeout + margin";
  EXPECT_GE(elapsed, kTimeout);
  EXPECT_LE(elapsed, kTimeout + kMargin);
  // The error is stored just after broken() turns true (WatchdogAloneTimesOutAnUnwaitedOperation).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_NE(work->exception(), nullptr);
  try {
    work->wait();
    ADD_FAILURE() << "wait() returned after the watchdog timed the operation out";
  } catch (const CommTimeoutError& e) {
    EXPECT_EQ(e.context().backend, "nccl");
    EXPECT_EQ(e.context().seq, 1);
    EXPECT_EQ(e.timeout(), kTimeout);
    EXPECT_THAT(e.what(), HasSubstr(group_text(*comm)));
    EXPECT_THAT(e.what(), HasSubstr("timed out after 2000 ms"));
  }
  expect_broken(*comm);
}

}  // namespace
}  // namespace switchyard::comm
