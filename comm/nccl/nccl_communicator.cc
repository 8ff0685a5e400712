#include "comm/nccl/nccl_communicator.h"

#include <algorithm>
#include <cstdio>
#include <thread>
#include <utility>

#include "comm/block_transfers.h"
#include "comm/comm_error.h"
#include "comm/mpi/mpi_checks.h"
#include "comm/nccl/nccl_checks.h"
#include "comm/nccl/nccl_watchdog.h"

namespace switchyard::comm {

using Clock = std::chrono::steady_clock;

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;  // the communicator's own stream
  int device = 0;
  int rank = 0;
  int size = 1;
  int world_rank = 0;
  NcclCommunicatorOptions options;
  int64_t next_seq = 0;
  void* barrier_buffer = nullptr;  // one int32 on the device, for barrier()
  std::mutex mutex;                // guards comm abort and `broken`
  bool broken = false;
  std::string broken_by;
  std::unique_ptr<NcclWatchdog> watchdog;

  CommErrorContext context(const std::string& op, int64_t seq) const {
    return CommErrorContext{"nccl", op, options.name, rank, size, seq};
  }

  // Overdue operation (from the watchdog or a waiting thread): abort or throw-mode bookkeeping.
  void on_timeout(const CommErrorContext& ctx,
                  std::chrono::milliseconds timeout,
                  NcclOpStatus& status) {
    if (options.on_timeout == TimeoutAction::kAbort) {
      std::fprintf(stderr,
                   "switchyard: comm timeout: world rank %d: %s did not complete within %lld ms; "
                   "aborting the job\n",
                   world_rank, describe(ctx).c_str(), static_cast<long long>(timeout.count()));
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, options.abort_exit_code);
      return;
    }
    // The failure is recorded before the abort: the abort ends the stuck kernels, so the op's end
    // event completes, and a waiter must not take that for success.
    {
      std::lock_guard<std::mutex> lock(status.mutex);
      if (!status.done) {
        status.failure =
            std::make_exception_ptr(CommTimeoutError(ctx, timeout, __FILE__, __LINE__));
        status.done = true;
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!broken) {
      broken = true;
      broken_by = describe(ctx);
      ncclCommAbort(comm);  // ends the stuck kernels; the communicator is unusable from here
    }
  }

  ~State() {
    // Destroyed from the watchdog's own handler (it held the last reference): the thread cannot
    // join itself, so it is told to end and its object is leaked.
    if (watchdog != nullptr && watchdog->on_watchdog_thread()) watchdog.release()->abandon();
    watchdog.reset();
    if (barrier_buffer != nullptr) cudaFree(barrier_buffer);
    if (!broken && comm != nullptr) ncclCommDestroy(comm);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

namespace {

using State = NcclCommunicator::State;

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<State> state,
           std::shared_ptr<cudaEvent_t> end,
           std::shared_ptr<NcclOpStatus> status,
           CommErrorContext context,
           std::chrono::milliseconds timeout)
      : state_(std::move(state)),
        end_(std::move(end)),
        status_(std::move(status)),
        context_(std::move(context)),
        timeout_(timeout),
        start_(Clock::now()) {}

  bool is_completed() override {
    {
      std::lock_guard<std::mutex> lock(status_->mutex);
      if (status_->done) return true;
    }
    const cudaError_t rc = cudaEventQuery(*end_);
    if (rc == cudaErrorNotReady) return check_async_error();
    std::string
        aborted_by;  // another op's timeout aborted the communicator: this op's data is lost
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->broken) aborted_by = state_->broken_by;
    }
    std::lock_guard<std::mutex> lock(status_->mutex);
    if (status_->done) return true;
    if (!aborted_by.empty()) {
      status_->failure = std::make_exception_ptr(
          CommError(context_, "communicator aborted by an earlier timeout (" + aborted_by + ")",
                    __FILE__, __LINE__));
    } else if (rc != cudaSuccess) {
      CommErrorContext ctx = context_;
      ctx.backend = "cuda";
      status_->failure = std::make_exception_ptr(
          CommError(ctx, std::string("cudaEventQuery failed: ") + cudaGetErrorString(rc), __FILE__,
                    __LINE__));
    }
    status_->done = true;
    return true;
  }

  void wait(std::chrono::milliseconds timeout) override {
    const auto deadline = timeout.count() < 0 ? start_ + timeout_ : Clock::now() + timeout;
    const std::chrono::milliseconds budget = timeout.count() < 0 ? timeout_ : timeout;
    auto sleep = std::chrono::microseconds(20);
    while (!is_completed()) {
      if (Clock::now() >= deadline) {
        state_->on_timeout(context_, budget, *status_);
        break;
      }
      std::this_thread::sleep_for(sleep);
      sleep = std::min(sleep * 2, std::chrono::microseconds(1000));
    }
    std::lock_guard<std::mutex> lock(status_->mutex);
    if (status_->failure) std::rethrow_exception(status_->failure);
  }

  void synchronize_stream() override {
    SY_CUDA_CHECK(cudaStreamWaitEvent(state_->options.caller_stream(), *end_, 0), context_);
  }

  std::exception_ptr exception() const override {
    std::lock_guard<std::mutex> lock(status_->mutex);
    return status_->failure;
  }

 private:
  // An asynchronous NCCL error completes the Work with CommError.
  bool check_async_error() {
    ncclResult_t async = ncclSuccess;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->broken) return false;  // aborted: the handle is gone; the watchdog reports
      if (ncclCommGetAsyncError(state_->comm, &async) != ncclSuccess || async == ncclSuccess ||
          async == ncclInProgress) {
        return false;
      }
    }
    std::lock_guard<std::mutex> lock(status_->mutex);
    status_->failure = std::make_exception_ptr(
        CommError(context_, std::string("asynchronous NCCL error: ") + ncclGetErrorString(async),
                  __FILE__, __LINE__));
    status_->done = true;
    return true;
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<cudaEvent_t> end_;
  std::shared_ptr<NcclOpStatus> status_;
  CommErrorContext context_;
  std::chrono::milliseconds timeout_;
  Clock::time_point start_;
};

ncclDataType_t nccl_type(at::ScalarType dtype, const CommErrorContext& ctx) {
  switch (dtype) {
    case at::kFloat:
      return ncclFloat32;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kDouble:
      return ncclFloat64;
    case at::kLong:
      return ncclInt64;
    case at::kInt:
      return ncclInt32;
    default:
      throw CommError(ctx, std::string("unsupported dtype ") + c10::toString(dtype) +
                               " (supported: float32, bfloat16, float64, int64, int32)");
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kSum:
    default:
      return ncclSum;
  }
}

void check_device_tensor(const at::Tensor& t, const char* what, const CommErrorContext& ctx) {
  if (!t.defined()) throw CommError(ctx, std::string(what) + " is undefined");
  if (!t.is_cuda()) {
    throw CommError(ctx, std::string(what) + " is on " + t.device().str() +
                             "; the NCCL backend takes CUDA tensors");
  }
  if (!t.is_contiguous()) throw CommError(ctx, std::string(what) + " is not contiguous");
}

// A start-up step (unique-id broadcast, ncclCommInitRank, ncclCommSplit) past its deadline:
// with TimeoutAction::kAbort one line and MPI_Abort, as for an overdue collective; else
// CommTimeoutError.
[[noreturn]] void startup_timeout(const NcclCommunicatorOptions& options,
                                  const CommErrorContext& ctx) {
  if (options.on_timeout == TimeoutAction::kAbort) {
    int world_rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    std::fprintf(stderr,
                 "switchyard: comm timeout: world rank %d: %s did not complete within %lld ms (a "
                 "rank died or never arrived); aborting the job\n",
                 world_rank, describe(ctx).c_str(),
                 static_cast<long long>(options.timeout.count()));
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, options.abort_exit_code);
  }
  throw CommTimeoutError(ctx, options.timeout, __FILE__, __LINE__);
}

// Polls a non-blocking communicator until its pending initialization or enqueue is done
// (ncclCommGetAsyncError leaves ncclInProgress). Past `deadline` the communicator is aborted and
// `on_late` runs (it must not return normally). An asynchronous error throws CommError.
template <typename OnLate>
void await_nccl_ready(ncclComm_t comm,
                      Clock::time_point deadline,
                      const CommErrorContext& ctx,
                      OnLate&& on_late) {
  auto sleep = std::chrono::microseconds(10);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    SY_NCCL_CHECK(ncclCommGetAsyncError(comm, &state), ctx);
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) {
      throw CommError(ctx, std::string("asynchronous NCCL error: ") + ncclGetErrorString(state),
                      __FILE__, __LINE__);
    }
    if (Clock::now() >= deadline) {
      ncclCommAbort(comm);
      on_late();
    }
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds(1000));
  }
}

// Non-blocking communicators (ncclConfig_t.blocking = 0): initialization, split and enqueue
// return at once, so that every step of them stays under the timeout.
ncclConfig_t nonblocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

// Issues one operation: ordering after the caller's stream, `enqueue` on the comm stream, end
// event, Work, watchdog registration.
template <typename Enqueue>
std::shared_ptr<Work> issue(const std::shared_ptr<State>& state,
                            const CommErrorContext& ctx,
                            std::chrono::milliseconds timeout,
                            std::vector<at::Tensor> tensors,
                            Enqueue&& enqueue) {
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->broken) {
      throw CommError(ctx,
                      "communicator is broken by an earlier timeout (" + state->broken_by + ")");
    }
  }
  if (timeout.count() < 0) timeout = state->options.timeout;
  SY_CUDA_CHECK(cudaSetDevice(state->device), ctx);
  cudaEvent_t ready = nullptr;
  SY_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), ctx);
  SY_CUDA_CHECK(cudaEventRecord(ready, state->options.caller_stream()), ctx);
  SY_CUDA_CHECK(cudaStreamWaitEvent(state->stream, ready, 0), ctx);
  SY_CUDA_CHECK(cudaEventDestroy(ready), ctx);
  const Clock::time_point deadline = Clock::now() + timeout;
  enqueue();
  // Non-blocking communicator: the enqueue may still be in progress; the end event must follow it.
  await_nccl_ready(state->comm, deadline, ctx, [&] {
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->broken = true;
      state->broken_by = describe(ctx);
    }
    NcclOpStatus status;
    state->on_timeout(ctx, timeout, status);  // kAbort: one line and MPI_Abort
    throw CommTimeoutError(ctx, timeout, __FILE__, __LINE__);
  });
  auto end = std::shared_ptr<cudaEvent_t>(new cudaEvent_t(nullptr), [](cudaEvent_t* e) {
    if (*e != nullptr) cudaEventDestroy(*e);
    delete e;
  });
  SY_CUDA_CHECK(cudaEventCreateWithFlags(end.get(), cudaEventDisableTiming), ctx);
  SY_CUDA_CHECK(cudaEventRecord(*end, state->stream), ctx);
  auto status = std::make_shared<NcclOpStatus>();
  NcclPendingOp pending;
  pending.end = end;
  pending.deadline = Clock::now() + timeout;
  pending.timeout = timeout;
  pending.context = ctx;
  pending.tensors = std::move(tensors);
  pending.status = status;
  state->watchdog->track(std::move(pending));
  return std::make_shared<NcclWork>(state, end, status, ctx, timeout);
}

std::shared_ptr<State> make_state(ncclComm_t comm, int device, const NcclCommunicatorOptions& o) {
  auto state = std::make_shared<State>();
  state->comm = comm;
  state->device = device;
  state->options = o;
  const CommErrorContext ctx{"nccl", "init", o.name, -1, 0, -1};
  SY_NCCL_CHECK(ncclCommUserRank(comm, &state->rank), ctx);
  SY_NCCL_CHECK(ncclCommCount(comm, &state->size), ctx);
  MPI_Comm_rank(MPI_COMM_WORLD, &state->world_rank);
  SY_CUDA_CHECK(cudaSetDevice(device), ctx);
  SY_CUDA_CHECK(cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking), ctx);
  SY_CUDA_CHECK(cudaMalloc(&state->barrier_buffer, sizeof(int32_t)), ctx);
  std::weak_ptr<State> weak = state;
  state->watchdog = std::make_unique<NcclWatchdog>(o.watchdog_interval, [weak](NcclPendingOp& op) {
    if (auto s = weak.lock()) s->on_timeout(op.context, op.timeout, *op.status);
  });
  return state;
}

}  // namespace

bool cuda_device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

std::shared_ptr<NcclCommunicator> NcclCommunicator::create(MPI_Comm bootstrap,
                                                           const NcclCommunicatorOptions& options) {
  CommErrorContext ctx{"nccl", "create", options.name, -1, 0, -1};
  int rank = 0;
  int size = 1;
  SY_MPI_CHECK(MPI_Comm_rank(bootstrap, &rank), ctx);
  SY_MPI_CHECK(MPI_Comm_size(bootstrap, &size), ctx);
  ctx.rank = rank;
  ctx.size = size;
  int device = options.device;
  if (device < 0) SY_CUDA_CHECK(cudaGetDevice(&device), ctx);
  SY_CUDA_CHECK(cudaSetDevice(device), ctx);
  const Clock::time_point deadline = Clock::now() + options.timeout;
  ncclUniqueId id;
  if (rank == 0) SY_NCCL_CHECK(ncclGetUniqueId(&id), ctx);
  // Unique-id bootstrap over MPI, polled against the timeout (a missing rank cannot hang it).
  ctx.op = "create (unique-id broadcast)";
  MPI_Request request = MPI_REQUEST_NULL;
  SY_MPI_CHECK(MPI_Ibcast(&id, sizeof(id), MPI_BYTE, 0, bootstrap, &request), ctx);
  for (int done = 0;;) {
    SY_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE), ctx);
    if (done) break;
    if (Clock::now() >= deadline) startup_timeout(options, ctx);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ctx.op = "create (ncclCommInitRank)";
  ncclComm_t comm = nullptr;
  ncclConfig_t config = nonblocking_config();
  SY_NCCL_CHECK(ncclCommInitRankConfig(&comm, size, id, rank, &config), ctx);
  await_nccl_ready(comm, deadline, ctx, [&] { startup_timeout(options, ctx); });
  return std::shared_ptr<NcclCommunicator>(new NcclCommunicator(make_state(comm, device, options)));
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<State> state) : state_(std::move(state)) {}
NcclCommunicator::~NcclCommunicator() = default;

int NcclCommunicator::rank() const { return state_->rank; }
int NcclCommunicator::size() const { return state_->size; }
const std::string& NcclCommunicator::name() const { return state_->options.name; }
std::chrono::milliseconds NcclCommunicator::timeout() const { return state_->options.timeout; }
bool NcclCommunicator::broken() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->broken;
}

std::shared_ptr<Work> NcclCommunicator::all_reduce(at::Tensor& tensor,
                                                   const AllReduceOptions& options) {
  const CommErrorContext ctx = state_->context("all_reduce", state_->next_seq++);
  check_device_tensor(tensor, "all_reduce tensor", ctx);
  const ncclDataType_t type = nccl_type(tensor.scalar_type(), ctx);
  void* data = tensor.data_ptr();
  const auto count = static_cast<size_t>(tensor.numel());
  return issue(state_, ctx, options.timeout, {tensor}, [&] {
    SY_NCCL_CHECK(
        ncclAllReduce(data, data, count, type, nccl_op(options.op), state_->comm, state_->stream),
        ctx);
  });
}

std::shared_ptr<Work> NcclCommunicator::all_gather(at::Tensor& out,
                                                   const at::Tensor& in,
                                                   const AllGatherOptions& options) {
  const CommErrorContext ctx = state_->context("all_gather", state_->next_seq++);
  check_device_tensor(in, "all_gather input", ctx);
  check_device_tensor(out, "all_gather output", ctx);
  if (out.numel() != in.numel() * state_->size || out.scalar_type() != in.scalar_type()) {
    throw CommError(ctx, "output must be [size * input] of the input's dtype");
  }
  const ncclDataType_t type = nccl_type(in.scalar_type(), ctx);
  const void* send = in.data_ptr();
  void* recv = out.data_ptr();
  const auto count = static_cast<size_t>(in.numel());
  return issue(state_, ctx, options.timeout, {in, out}, [&] {
    SY_NCCL_CHECK(ncclAllGather(send, recv, count, type, state_->comm, state_->stream), ctx);
  });
}

std::shared_ptr<Work> NcclCommunicator::all_to_all(at::Tensor& out,
                                                   const at::Tensor& in,
                                                   const std::vector<int64_t>& recv_counts,
                                                   const std::vector<int64_t>& send_counts,
                                                   const AllToAllOptions& options) {
  const CommErrorContext ctx = state_->context("all_to_all", state_->next_seq++);
  check_device_tensor(in, "all_to_all input", ctx);
  check_device_tensor(out, "all_to_all output", ctx);
  const int P = state_->size;
  if (static_cast<int>(send_counts.size()) != P || static_cast<int>(recv_counts.size()) != P) {
    throw CommError(ctx, "send/recv counts need one entry per rank");
  }
  if (in.dim() < 1 || in.scalar_type() != out.scalar_type() ||
      in.sizes().slice(1) != out.sizes().slice(1)) {
    throw CommError(ctx, "input and output need a row dim, equal dtypes and trailing dims");
  }
  return issue_blocks(ctx, options.timeout, {out}, {in},
                      blocks_of_counts(recv_counts, "recv_counts", ctx),
                      blocks_of_counts(send_counts, "send_counts", ctx));
}

std::shared_ptr<Work> NcclCommunicator::exchange_blocks(const std::vector<at::Tensor>& outs,
                                                        const std::vector<at::Tensor>& ins,
                                                        const std::vector<BlockTransfer>& recvs,
                                                        const std::vector<BlockTransfer>& sends,
                                                        const AllToAllOptions& options) {
  const CommErrorContext ctx = state_->context("exchange_blocks", state_->next_seq++);
  for (const at::Tensor& t : ins) check_device_tensor(t, "exchange_blocks input", ctx);
  for (const at::Tensor& t : outs) check_device_tensor(t, "exchange_blocks output", ctx);
  return issue_blocks(ctx, options.timeout, outs, ins, recvs, sends);
}

std::shared_ptr<Work> NcclCommunicator::issue_blocks(const CommErrorContext& ctx,
                                                     std::chrono::milliseconds timeout,
                                                     const std::vector<at::Tensor>& outs,
                                                     const std::vector<at::Tensor>& ins,
                                                     const std::vector<BlockTransfer>& recvs,
                                                     const std::vector<BlockTransfer>& sends) {
  const int P = state_->size;
  const int64_t row_bytes = check_block_exchange(outs, ins, recvs, sends, state_->rank, P, ctx);
  const at::Tensor& first = ins.empty() ? outs.front() : ins.front();
  const ncclDataType_t type = nccl_type(first.scalar_type(), ctx);
  const int64_t row_elems = row_bytes / static_cast<int64_t>(first.element_size());
  // Rounds: round k holds the k-th non-empty block to and from every peer (self included: NCCL
  // copies those), so that each ncclGroup has at most one send and one receive per peer, the
  // pattern of a grouped all-to-all. Both sides derive the same rounds from the same blocks.
  std::vector<std::vector<BlockTransfer>> send_rounds;
  std::vector<std::vector<BlockTransfer>> recv_rounds;
  auto to_rounds = [P](const std::vector<BlockTransfer>& blocks,
                       std::vector<std::vector<BlockTransfer>>* rounds) {
    std::vector<size_t> seen(P, 0);
    for (const BlockTransfer& b : blocks) {
      if (b.rows == 0) continue;
      const size_t k = seen[b.peer]++;
      if (rounds->size() <= k) rounds->resize(k + 1);
      (*rounds)[k].push_back(b);
    }
  };
  to_rounds(sends, &send_rounds);
  to_rounds(recvs, &recv_rounds);
  std::vector<at::Tensor> keep = ins;
  keep.insert(keep.end(), outs.begin(), outs.end());
  return issue(state_, ctx, timeout, std::move(keep), [&] {
    for (size_t k = 0; k < std::max(send_rounds.size(), recv_rounds.size()); ++k) {
      SY_NCCL_CHECK(ncclGroupStart(), ctx);
      if (k < send_rounds.size()) {
        for (const BlockTransfer& b : send_rounds[k]) {
          const auto* src =
              static_cast<const char*>(ins[b.buffer].data_ptr()) + b.offset * row_bytes;
          SY_NCCL_CHECK(ncclSend(src, static_cast<size_t>(b.rows * row_elems), type, b.peer,
                                 state_->comm, state_->stream),
                        ctx);
        }
      }
      if (k < recv_rounds.size()) {
        for (const BlockTransfer& b : recv_rounds[k]) {
          auto* dst = static_cast<char*>(outs[b.buffer].data_ptr()) + b.offset * row_bytes;
          SY_NCCL_CHECK(ncclRecv(dst, static_cast<size_t>(b.rows * row_elems), type, b.peer,
                                 state_->comm, state_->stream),
                        ctx);
        }
      }
      SY_NCCL_CHECK(ncclGroupEnd(), ctx);
    }
  });
}

std::shared_ptr<Work> NcclCommunicator::broadcast(at::Tensor& tensor,
                                                  int root,
                                                  const BroadcastOptions& options) {
  const CommErrorContext ctx = state_->context("broadcast", state_->next_seq++);
  check_device_tensor(tensor, "broadcast tensor", ctx);
  if (root < 0 || root >= state_->size) throw CommError(ctx, "root out of range");
  const ncclDataType_t type = nccl_type(tensor.scalar_type(), ctx);
  void* data = tensor.data_ptr();
  const auto count = static_cast<size_t>(tensor.numel());
  return issue(state_, ctx, options.timeout, {tensor}, [&] {
    SY_NCCL_CHECK(ncclBroadcast(data, data, count, type, root, state_->comm, state_->stream), ctx);
  });
}

std::shared_ptr<Work> NcclCommunicator::barrier(const BarrierOptions& options) {
  const CommErrorContext ctx = state_->context("barrier", state_->next_seq++);
  void* data = state_->barrier_buffer;
  return issue(state_, ctx, options.timeout, {}, [&] {
    SY_NCCL_CHECK(ncclAllReduce(data, data, 1, ncclInt32, ncclSum, state_->comm, state_->stream),
                  ctx);
  });
}

std::shared_ptr<Communicator> NcclCommunicator::split(int color, int key, const std::string& name) {
  const CommErrorContext ctx = state_->context("split", -1);
  barrier()->wait();  // every rank arrived (under the timeout) before the split
  const Clock::time_point deadline = Clock::now() + state_->options.timeout;
  ncclComm_t comm = nullptr;
  ncclConfig_t config = nonblocking_config();
  SY_NCCL_CHECK(ncclCommSplit(state_->comm, color, key, &comm, &config), ctx);
  // The parent is non-blocking too: its split completes when both leave ncclInProgress.
  await_nccl_ready(state_->comm, deadline, ctx, [&] { startup_timeout(state_->options, ctx); });
  await_nccl_ready(comm, deadline, ctx, [&] { startup_timeout(state_->options, ctx); });
  NcclCommunicatorOptions options = state_->options;
  options.name = name;
  return std::shared_ptr<NcclCommunicator>(
      new NcclCommunicator(make_state(comm, state_->device, options)));
}

}  // namespace switchyard::comm
