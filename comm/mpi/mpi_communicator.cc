#include "comm/mpi/mpi_communicator.h"

#include <c10/util/BFloat16.h>
#include <torch/cuda.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/block_transfers.h"
#include "comm/comm_error.h"
#include "comm/mpi/mpi_checks.h"

namespace switchyard::comm {

// Shared by a communicator and its Work objects, so that a Work outliving its communicator (or a
// request abandoned by a timeout) never touches freed state.
struct MpiCommunicator::State {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  int world_rank = 0;
  MpiCommunicatorOptions options;
  int64_t next_seq = 0;
  bool broken = false;
  std::string broken_by;  // describe() of the timed-out operation
  MPI_Datatype bf16_type = MPI_DATATYPE_NULL;
  MPI_Op bf16_sum = MPI_OP_NULL;
  MPI_Op bf16_max = MPI_OP_NULL;
  MPI_Op bf16_min = MPI_OP_NULL;
  // Requests that can no longer be waited for (timed out, or their Work was dropped while
  // pending), with the buffers they may still write. Never freed while active (MPI forbids
  // freeing an active collective request).
  struct Pending {
    std::vector<MPI_Request> requests;
    std::vector<at::Tensor> tensors;
    std::shared_ptr<void> extra;
  };
  std::vector<Pending> orphans;

  CommErrorContext context(const std::string& op, int64_t seq) const {
    return CommErrorContext{"mpi", op, options.name, rank, size, seq};
  }
  // Tests orphaned requests (progress) and drops the completed ones.
  void reap() {
    for (size_t i = 0; i < orphans.size();) {
      int flag = 0;
      std::vector<MPI_Request>& r = orphans[i].requests;
      if (MPI_Testall(static_cast<int>(r.size()), r.data(), &flag, MPI_STATUSES_IGNORE) ==
              MPI_SUCCESS &&
          flag) {
        orphans.erase(orphans.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  ~State() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (!broken) reap();
    if (bf16_sum != MPI_OP_NULL) MPI_Op_free(&bf16_sum);
    if (bf16_max != MPI_OP_NULL) MPI_Op_free(&bf16_max);
    if (bf16_min != MPI_OP_NULL) MPI_Op_free(&bf16_min);
    if (bf16_type != MPI_DATATYPE_NULL) MPI_Type_free(&bf16_type);
    // A broken communicator (or one with active requests) is leaked on purpose.
    if (!broken && orphans.empty() && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

namespace {

using Clock = std::chrono::steady_clock;
using State = MpiCommunicator::State;

// Tag of the point-to-point all-to-all. The communicator is private to MpiCommunicator, so no
// other traffic uses it; collectives use a separate context inside MPI.
constexpr int kAllToAllTag = 0x5359;

template <typename Combine>
void bf16_reduce(void* in, void* inout, int* len, Combine combine) {
  const auto* a = static_cast<const c10::BFloat16*>(in);
  auto* b = static_cast<c10::BFloat16*>(inout);
  for (int i = 0; i < *len; ++i) {
    b[i] = c10::BFloat16(combine(static_cast<float>(a[i]), static_cast<float>(b[i])));
  }
}
void bf16_sum_fn(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x + y; });
}
void bf16_max_fn(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x > y ? x : y; });
}
void bf16_min_fn(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x < y ? x : y; });
}

std::shared_ptr<State> make_state(MPI_Comm comm, const MpiCommunicatorOptions& options) {
  auto state = std::make_shared<State>();
  state->comm = comm;
  state->options = options;
  const CommErrorContext ctx{"mpi", "init", options.name, -1, 0, -1};
  SY_MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), ctx);
  SY_MPI_CHECK(MPI_Comm_rank(comm, &state->rank), ctx);
  SY_MPI_CHECK(MPI_Comm_size(comm, &state->size), ctx);
  SY_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &state->world_rank), ctx);
  SY_MPI_CHECK(MPI_Type_contiguous(2, MPI_BYTE, &state->bf16_type), ctx);
  SY_MPI_CHECK(MPI_Type_commit(&state->bf16_type), ctx);
  SY_MPI_CHECK(MPI_Op_create(&bf16_sum_fn, 1, &state->bf16_sum), ctx);
  SY_MPI_CHECK(MPI_Op_create(&bf16_max_fn, 1, &state->bf16_max), ctx);
  SY_MPI_CHECK(MPI_Op_create(&bf16_min_fn, 1, &state->bf16_min), ctx);
  return state;
}

// The MPI datatype of one element, or throws CommError for an unsupported dtype.
MPI_Datatype element_type(const State& state, at::ScalarType dtype, const CommErrorContext& ctx) {
  switch (dtype) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kLong:
      return MPI_INT64_T;
    case at::kInt:
      return MPI_INT32_T;
    case at::kBFloat16:
      return state.bf16_type;
    default:
      throw CommError(ctx, std::string("unsupported dtype ") + c10::toString(dtype) +
                               " (supported: float32, bfloat16, float64, int64, int32)");
  }
}

MPI_Op reduce_op(const State& state, ReduceOp op, at::ScalarType dtype) {
  const bool bf16 = dtype == at::kBFloat16;
  switch (op) {
    case ReduceOp::kSum:
      return bf16 ? state.bf16_sum : MPI_SUM;
    case ReduceOp::kMax:
      return bf16 ? state.bf16_max : MPI_MAX;
    case ReduceOp::kMin:
      return bf16 ? state.bf16_min : MPI_MIN;
  }
  return MPI_OP_NULL;
}

// Checks a buffer handed to MPI. A CUDA tensor on a communicator with device_buffers: the
// device is synchronized first (MPI reads device memory outside any CUDA stream).
void check_tensor(const State& state,
                  const at::Tensor& t,
                  const char* what,
                  const CommErrorContext& ctx) {
  if (!t.defined()) throw CommError(ctx, std::string(what) + " is an undefined tensor");
  if (!t.device().is_cpu()) {
    if (!state.options.device_buffers || !t.device().is_cuda()) {
      throw CommError(ctx, std::string(what) + " is on " + t.device().str() +
                               "; this MPI communicator takes CPU tensors (device tensors go "
                               "through host staging, or NCCL)");
    }
    torch::cuda::synchronize(t.device().index());
  }
  if (!t.is_contiguous()) {
    throw CommError(ctx, std::string(what) + " is not contiguous (sizes " + c10::str(t.sizes()) +
                             ", strides " + c10::str(t.strides()) + "); call .contiguous() first");
  }
}

int checked_int(int64_t value, const char* what, const CommErrorContext& ctx) {
  if (value < 0 || value > INT_MAX) {
    throw CommError(
        ctx, std::string(what) + " = " + std::to_string(value) + " does not fit MPI's int count");
  }
  return static_cast<int>(value);
}

// "[0,2,4]": the world ranks of `comm`'s members, in group order (local group calls only, so it
// works while a peer or link is gone); "[?]" if MPI refuses.
std::string world_ranks_of(MPI_Comm comm) {
  MPI_Group group = MPI_GROUP_NULL;
  MPI_Group world = MPI_GROUP_NULL;
  int size = 0;
  if (MPI_Comm_group(comm, &group) != MPI_SUCCESS || MPI_Group_size(group, &size) != MPI_SUCCESS ||
      MPI_Comm_group(MPI_COMM_WORLD, &world) != MPI_SUCCESS) {
    return "[?]";
  }
  std::vector<int> local(size);   // [size] 0..size-1
  std::vector<int> global(size);  // [size] their world ranks
  for (int i = 0; i < size; ++i) local[i] = i;
  const bool ok =
      MPI_Group_translate_ranks(group, size, local.data(), world, global.data()) == MPI_SUCCESS;
  MPI_Group_free(&group);
  MPI_Group_free(&world);
  if (!ok) return "[?]";
  std::string text = "[";
  for (int i = 0; i < size; ++i) text += (i ? "," : "") + std::to_string(global[i]);
  return text + "]";
}

class MpiWork : public Work {
 public:
  MpiWork(std::shared_ptr<State> state,
          CommErrorContext context,
          std::chrono::milliseconds timeout,
          std::vector<at::Tensor> tensors,
          std::shared_ptr<void> extra)
      : state_(std::move(state)),
        context_(std::move(context)),
        timeout_(timeout),
        start_(Clock::now()),
        tensors_(std::move(tensors)),
        extra_(std::move(extra)) {}

  ~MpiWork() override {
    if (done_ || requests_.empty()) return;
    // Dropped while pending: hand the requests and their buffers to the communicator.
    state_->orphans.push_back({std::move(requests_), std::move(tensors_), std::move(extra_)});
  }

  // The operation's requests (one for a collective, one per peer and direction for the
  // point-to-point all-to-all); filled by the issuing code before the first test.
  std::vector<MPI_Request>& requests() { return requests_; }

  bool is_completed() override { return test(); }

  void wait(std::chrono::milliseconds timeout) override {
    const auto now = Clock::now();
    const auto deadline = timeout.count() < 0 ? start_ + timeout_ : now + timeout;
    const std::chrono::milliseconds budget = timeout.count() < 0 ? timeout_ : timeout;
    const auto spin_end = now + state_->options.spin_duration;
    auto sleep = state_->options.min_sleep;
    while (!test()) {
      const auto t = Clock::now();
      if (t >= deadline) on_timeout(budget);
      if (t < spin_end) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, state_->options.max_sleep);
      }
    }
    if (failure_) std::rethrow_exception(failure_);
  }

  void synchronize_stream() override {}
  std::exception_ptr exception() const override { return failure_; }

 private:
  bool test() {
    if (done_) return true;
    int flag = 0;
    const int rc = MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag,
                               MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      try {
        detail::throw_mpi_error(rc, "MPI_Testall", context_, __FILE__, __LINE__);
      } catch (...) {
        failure_ = std::current_exception();
      }
      finish();
      return true;
    }
    if (flag) finish();
    return done_;
  }

  void finish() {
    done_ = true;
    tensors_.clear();
    extra_.reset();
  }

  [[noreturn]] void on_timeout(std::chrono::milliseconds budget) {
    if (state_->options.on_timeout == TimeoutAction::kAbort) {
      std::fprintf(stderr,
                   "switchyard: comm timeout: world rank %d: %s with world ranks %s did not "
                   "complete within %lld ms; aborting the job\n",
                   state_->world_rank, describe(context_).c_str(),
                   world_ranks_of(state_->comm).c_str(), static_cast<long long>(budget.count()));
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, state_->options.abort_exit_code);
      std::abort();  // MPI_Abort does not return; keep [[noreturn]] honest.
    }
    state_->broken = true;
    state_->broken_by = describe(context_);
    state_->orphans.push_back({std::move(requests_), std::move(tensors_), std::move(extra_)});
    requests_.clear();
    failure_ = std::make_exception_ptr(CommTimeoutError(context_, budget, __FILE__, __LINE__));
    done_ = true;
    std::rethrow_exception(failure_);
  }

  std::shared_ptr<State> state_;
  CommErrorContext context_;
  std::chrono::milliseconds timeout_;
  Clock::time_point start_;
  std::vector<at::Tensor> tensors_;  // kept alive until completion
  std::shared_ptr<void> extra_;      // count arrays etc., kept alive until completion
  std::vector<MPI_Request> requests_;
  bool done_ = false;
  std::exception_ptr failure_;
};

// Starts one non-blocking operation: assigns the sequence number, checks the communicator is
// usable, calls `start(request)` through SY_MPI_CHECK and returns the Work.
class OpBuilder {
 public:
  OpBuilder(const std::shared_ptr<State>& state, const char* op, std::chrono::milliseconds timeout)
      : state_(state),
        context_(state->context(op, state->next_seq++)),
        timeout_(timeout.count() >= 0 ? timeout : state->options.timeout) {
    if (state->broken) {
      throw CommError(context_,
                      "communicator is broken by an earlier timeout (" + state->broken_by + ")");
    }
    state->reap();
  }
  const CommErrorContext& context() const { return context_; }

  template <typename Start>
  std::shared_ptr<Work> start(std::vector<at::Tensor> tensors,
                              std::shared_ptr<void> extra,
                              const char* call_text,
                              Start&& start_fn) {
    auto work =
        std::make_shared<MpiWork>(state_, context_, timeout_, std::move(tensors), std::move(extra));
    work->requests().assign(1, MPI_REQUEST_NULL);
    const int rc = start_fn(work->requests().data());
    if (rc != MPI_SUCCESS) detail::throw_mpi_error(rc, call_text, context_, __FILE__, __LINE__);
    return work;
  }

  // Like start(), for operations made of several requests: `start_fn(requests)` appends them.
  template <typename Start>
  std::shared_ptr<Work> start_requests(std::vector<at::Tensor> tensors,
                                       std::shared_ptr<void> extra,
                                       const char* call_text,
                                       Start&& start_fn) {
    auto work =
        std::make_shared<MpiWork>(state_, context_, timeout_, std::move(tensors), std::move(extra));
    const int rc = start_fn(work->requests());
    if (rc != MPI_SUCCESS) detail::throw_mpi_error(rc, call_text, context_, __FILE__, __LINE__);
    return work;
  }

 private:
  std::shared_ptr<State> state_;
  CommErrorContext context_;
  std::chrono::milliseconds timeout_;
};

// Posts the receives and sends of a block exchange (checked by check_block_exchange) and copies
// the self blocks. Point-to-point, like grouped ncclSend/ncclRecv: one message per non-empty
// block, receives first, each side in peer-distance order (block_transfers.h). Matching relies
// on MPI's non-overtaking order: every rank issues its exchanges on a communicator in the same
// order, and blocks to one peer are posted in their list order.
std::shared_ptr<Work> start_block_exchange(OpBuilder& op,
                                           const std::shared_ptr<State>& state,
                                           const std::vector<at::Tensor>& outs,
                                           const std::vector<at::Tensor>& ins,
                                           const std::vector<BlockTransfer>& recvs,
                                           const std::vector<BlockTransfer>& sends) {
  const CommErrorContext& ctx = op.context();
  const int me = state->rank;
  const int64_t row_bytes = check_block_exchange(outs, ins, recvs, sends, me, state->size, ctx);
  const at::Tensor& first = ins.empty() ? outs.front() : ins.front();
  const MPI_Datatype elem = element_type(*state, first.scalar_type(), ctx);  // checks the dtype
  const std::vector<BlockTransfer> remote_recvs =
      remote_in_post_order(recvs, me, state->size, true);
  const std::vector<BlockTransfer> remote_sends =
      remote_in_post_order(sends, me, state->size, false);
  // Blocks travel as bytes (MPI_BYTE: Open MPI's contiguous fast path, no datatype to build per
  // call) when every block's byte count fits MPI's int; otherwise as rows of a contiguous row
  // datatype (counts in rows).
  int64_t largest = 0;
  for (const BlockTransfer& b : remote_recvs) largest = std::max(largest, b.rows);
  for (const BlockTransfer& b : remote_sends) largest = std::max(largest, b.rows);
  const bool as_bytes = largest * row_bytes <= INT_MAX;
  MPI_Datatype row_type = MPI_BYTE;
  int64_t unit = row_bytes;  // MPI elements per row
  if (!as_bytes) {
    int64_t row_count = 1;  // elements per row: product of the trailing dims
    for (int64_t d = 1; d < first.dim(); ++d) row_count *= first.size(d);
    SY_MPI_CHECK(
        MPI_Type_contiguous(checked_int(row_count, "row size (elements)", ctx), elem, &row_type),
        ctx);
    SY_MPI_CHECK(MPI_Type_commit(&row_type), ctx);
    unit = 1;
    checked_int(largest, "block rows", ctx);
  }
  std::vector<at::Tensor> keep = ins;
  keep.insert(keep.end(), outs.begin(), outs.end());
  MPI_Comm comm = state->comm;
  auto work = op.start_requests(
      std::move(keep), nullptr, "MPI_Irecv/MPI_Isend", [&](std::vector<MPI_Request>& requests) {
        for (const BlockTransfer& b : remote_recvs) {
          requests.push_back(MPI_REQUEST_NULL);
          auto* dst = static_cast<char*>(outs[b.buffer].data_ptr()) + b.offset * row_bytes;
          const int rc = MPI_Irecv(dst, static_cast<int>(b.rows * unit), row_type, b.peer,
                                   kAllToAllTag, comm, &requests.back());
          if (rc != MPI_SUCCESS) return rc;
        }
        for (const BlockTransfer& b : remote_sends) {
          requests.push_back(MPI_REQUEST_NULL);
          const auto* src =
              static_cast<const char*>(ins[b.buffer].data_ptr()) + b.offset * row_bytes;
          const int rc = MPI_Isend(src, static_cast<int>(b.rows * unit), row_type, b.peer,
                                   kAllToAllTag, comm, &requests.back());
          if (rc != MPI_SUCCESS) return rc;
        }
        const std::vector<BlockTransfer> self_send = self_blocks(sends, me);
        const std::vector<BlockTransfer> self_recv = self_blocks(recvs, me);
        for (size_t i = 0; i < self_send.size(); ++i) {
          const at::Tensor& in = ins[self_send[i].buffer];
          const at::Tensor& out = outs[self_recv[i].buffer];
          if (!in.device().is_cpu() || !out.device().is_cpu()) {
            // Device buffers (CUDA-aware MPI): a device copy of the rows, [rows, ...].
            out.narrow(0, self_recv[i].offset, self_recv[i].rows)
                .copy_(in.narrow(0, self_send[i].offset, self_send[i].rows));
            continue;
          }
          std::memcpy(static_cast<char*>(out.data_ptr()) + self_recv[i].offset * row_bytes,
                      static_cast<const char*>(in.data_ptr()) + self_send[i].offset * row_bytes,
                      static_cast<size_t>(self_send[i].rows * row_bytes));
        }
        return MPI_SUCCESS;
      });
  // Freeing a datatype in use by pending operations is allowed: it is released afterwards.
  if (!as_bytes) SY_MPI_CHECK(MPI_Type_free(&row_type), ctx);
  return work;
}

}  // namespace

std::shared_ptr<MpiCommunicator> MpiCommunicator::duplicate(MPI_Comm comm,
                                                            const MpiCommunicatorOptions& options) {
  MPI_Comm dup = MPI_COMM_NULL;
  const CommErrorContext ctx{"mpi", "duplicate", options.name, -1, 0, -1};
  SY_MPI_CHECK(MPI_Comm_dup(comm, &dup), ctx);
  return std::shared_ptr<MpiCommunicator>(new MpiCommunicator(make_state(dup, options)));
}

MpiCommunicator::MpiCommunicator(std::shared_ptr<State> state) : state_(std::move(state)) {}
MpiCommunicator::~MpiCommunicator() = default;

int MpiCommunicator::rank() const { return state_->rank; }
int MpiCommunicator::size() const { return state_->size; }
const std::string& MpiCommunicator::name() const { return state_->options.name; }
std::chrono::milliseconds MpiCommunicator::timeout() const { return state_->options.timeout; }
MPI_Comm MpiCommunicator::mpi_comm() const { return state_->comm; }
bool MpiCommunicator::broken() const { return state_->broken; }

std::shared_ptr<Work> MpiCommunicator::all_reduce(at::Tensor& tensor,
                                                  const AllReduceOptions& options) {
  OpBuilder op(state_, "all_reduce", options.timeout);
  check_tensor(*state_, tensor, "all_reduce tensor", op.context());
  const MPI_Datatype type = element_type(*state_, tensor.scalar_type(), op.context());
  const MPI_Op mpi_op = reduce_op(*state_, options.op, tensor.scalar_type());
  const int count = checked_int(tensor.numel(), "element count", op.context());
  void* data = tensor.data_ptr();
  MPI_Comm comm = state_->comm;
  return op.start({tensor}, nullptr, "MPI_Iallreduce", [&](MPI_Request* request) {
    return MPI_Iallreduce(MPI_IN_PLACE, data, count, type, mpi_op, comm, request);
  });
}

std::shared_ptr<Work> MpiCommunicator::all_gather(at::Tensor& out,
                                                  const at::Tensor& in,
                                                  const AllGatherOptions& options) {
  OpBuilder op(state_, "all_gather", options.timeout);
  check_tensor(*state_, in, "all_gather input", op.context());
  check_tensor(*state_, out, "all_gather output", op.context());
  if (in.scalar_type() != out.scalar_type()) {
    throw CommError(op.context(), "input and output dtypes differ");
  }
  if (out.numel() != in.numel() * state_->size) {
    throw CommError(op.context(), "output has " + std::to_string(out.numel()) +
                                      " elements, expected size * input = " +
                                      std::to_string(in.numel() * state_->size));
  }
  const MPI_Datatype type = element_type(*state_, in.scalar_type(), op.context());
  const int count = checked_int(in.numel(), "element count", op.context());
  const void* send = in.data_ptr();
  void* recv = out.data_ptr();
  MPI_Comm comm = state_->comm;
  return op.start({in, out}, nullptr, "MPI_Iallgather", [&](MPI_Request* request) {
    return MPI_Iallgather(send, count, type, recv, count, type, comm, request);
  });
}

std::shared_ptr<Work> MpiCommunicator::all_to_all(at::Tensor& out,
                                                  const at::Tensor& in,
                                                  const std::vector<int64_t>& recv_counts,
                                                  const std::vector<int64_t>& send_counts,
                                                  const AllToAllOptions& options) {
  OpBuilder op(state_, "all_to_all", options.timeout);
  const CommErrorContext& ctx = op.context();
  check_tensor(*state_, in, "all_to_all input", ctx);
  check_tensor(*state_, out, "all_to_all output", ctx);
  if (in.scalar_type() != out.scalar_type()) throw CommError(ctx, "input and output dtypes differ");
  if (in.dim() < 1 || out.dim() < 1) throw CommError(ctx, "input and output need a row dim");
  if (static_cast<int>(send_counts.size()) != state_->size ||
      static_cast<int>(recv_counts.size()) != state_->size) {
    throw CommError(ctx, "send/recv counts have " + std::to_string(send_counts.size()) + "/" +
                             std::to_string(recv_counts.size()) + " entries, expected " +
                             std::to_string(state_->size));
  }
  const std::vector<BlockTransfer> sends = blocks_of_counts(send_counts, "send_counts", ctx);
  const std::vector<BlockTransfer> recvs = blocks_of_counts(recv_counts, "recv_counts", ctx);
  const int64_t total_send = sends.back().offset + sends.back().rows;
  const int64_t total_recv = recvs.back().offset + recvs.back().rows;
  if (in.size(0) != total_send || out.size(0) != total_recv) {
    throw CommError(ctx, "input/output rows " + std::to_string(in.size(0)) + "/" +
                             std::to_string(out.size(0)) + " != sum of send/recv counts " +
                             std::to_string(total_send) + "/" + std::to_string(total_recv));
  }
  if (in.sizes().slice(1) != out.sizes().slice(1)) {
    throw CommError(ctx, "input and output trailing dims differ: " + c10::str(in.sizes()) + " vs " +
                             c10::str(out.sizes()));
  }
  const int me = state_->rank;
  if (send_counts[me] != recv_counts[me]) {
    throw CommError(ctx, "sends " + std::to_string(send_counts[me]) +
                             " rows to itself but expects " + std::to_string(recv_counts[me]));
  }
  return start_block_exchange(op, state_, {out}, {in}, recvs, sends);
}

std::shared_ptr<Work> MpiCommunicator::exchange_blocks(const std::vector<at::Tensor>& outs,
                                                       const std::vector<at::Tensor>& ins,
                                                       const std::vector<BlockTransfer>& recvs,
                                                       const std::vector<BlockTransfer>& sends,
                                                       const AllToAllOptions& options) {
  OpBuilder op(state_, "exchange_blocks", options.timeout);
  for (const at::Tensor& t : ins) check_tensor(*state_, t, "exchange_blocks input", op.context());
  for (const at::Tensor& t : outs) check_tensor(*state_, t, "exchange_blocks output", op.context());
  return start_block_exchange(op, state_, outs, ins, recvs, sends);
}

std::shared_ptr<Work> MpiCommunicator::broadcast(at::Tensor& tensor,
                                                 int root,
                                                 const BroadcastOptions& options) {
  OpBuilder op(state_, "broadcast", options.timeout);
  check_tensor(*state_, tensor, "broadcast tensor", op.context());
  if (root < 0 || root >= state_->size) {
    throw CommError(op.context(), "root " + std::to_string(root) + " out of range");
  }
  const MPI_Datatype type = element_type(*state_, tensor.scalar_type(), op.context());
  const int count = checked_int(tensor.numel(), "element count", op.context());
  void* data = tensor.data_ptr();
  MPI_Comm comm = state_->comm;
  return op.start({tensor}, nullptr, "MPI_Ibcast", [&](MPI_Request* request) {
    return MPI_Ibcast(data, count, type, root, comm, request);
  });
}

std::shared_ptr<Work> MpiCommunicator::barrier(const BarrierOptions& options) {
  OpBuilder op(state_, "barrier", options.timeout);
  MPI_Comm comm = state_->comm;
  return op.start({}, nullptr, "MPI_Ibarrier",
                  [&](MPI_Request* request) { return MPI_Ibarrier(comm, request); });
}

std::shared_ptr<Communicator> MpiCommunicator::split(int color, int key, const std::string& name) {
  // MPI_Comm_split blocks without a timeout: first make sure every rank arrived.
  BarrierOptions arrive;
  barrier(arrive)->wait();
  const CommErrorContext ctx = state_->context("split", -1);
  MPI_Comm comm = MPI_COMM_NULL;
  SY_MPI_CHECK(MPI_Comm_split(state_->comm, color, key, &comm), ctx);
  MpiCommunicatorOptions options = state_->options;
  options.name = name;
  return std::shared_ptr<MpiCommunicator>(new MpiCommunicator(make_state(comm, options)));
}

}  // namespace switchyard::comm
