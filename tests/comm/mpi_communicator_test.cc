// MpiCommunicator: every collective on every supported dtype, rejection of bad tensors, errors
// that name backend/op/rank/sequence number, and split().
#include "comm/mpi/mpi_communicator.h"

#include <mpi.h>

#include <string>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/comm_error.h"
#include "tests/comm/a2a_test_util.h"

namespace switchyard::comm {
namespace {

using ::testing::HasSubstr;

const at::ScalarType kDtypes[] = {at::kFloat, at::kBFloat16, at::kDouble, at::kLong, at::kInt};

TEST(MpiCommunicator, AllReduceEveryDtype) {
  auto world = testing::test_world();
  const int r = world->rank();
  const int n = world->size();
  for (at::ScalarType dtype : kDtypes) {
    SCOPED_TRACE(c10::toString(dtype));
    at::Tensor t = at::arange(6, at::kDouble).add(r).to(dtype);  // [6] = i + r
    world->all_reduce(t)->wait();
    const at::Tensor expected = at::arange(6, at::kDouble).mul(n).add(n * (n - 1) / 2).to(dtype);
    EXPECT_TRUE(at::equal(t, expected)) << t;
    at::Tensor mx = at::full({3}, r, at::TensorOptions().dtype(dtype));
    AllReduceOptions max_options;
    max_options.op = ReduceOp::kMax;
    world->all_reduce(mx, max_options)->wait();
    EXPECT_TRUE(at::equal(mx, at::full({3}, n - 1, at::TensorOptions().dtype(dtype))));
    at::Tensor mn = at::full({3}, r + 1, at::TensorOptions().dtype(dtype));
    AllReduceOptions min_options;
    min_options.op = ReduceOp::kMin;
    world->all_reduce(mn, min_options)->wait();
    EXPECT_TRUE(at::equal(mn, at::full({3}, 1, at::TensorOptions().dtype(dtype))));
  }
}

TEST(MpiCommunicator, AllGatherBroadcastBarrier) {
  auto world = testing::test_world();
  const int r = world->rank();
  const int n = world->size();
  for (at::ScalarType dtype : kDtypes) {
    at::Tensor in = at::full({2, 3}, r, at::TensorOptions().dtype(dtype));  // [2, 3]
    at::Tensor out = at::empty({2 * n, 3}, in.options());                   // [2n, 3]
    world->all_gather(out, in)->wait();
    for (int p = 0; p < n; ++p) {
      EXPECT_TRUE(at::equal(out.narrow(0, 2 * p, 2), at::full({2, 3}, p, in.options())));
    }
    at::Tensor b = at::full({5}, r == n - 1 ? 42 : -1, at::TensorOptions().dtype(dtype));
    world->broadcast(b, n - 1)->wait();
    EXPECT_TRUE(at::equal(b, at::full({5}, 42, b.options())));
  }
  world->barrier()->wait();
}

TEST(MpiCommunicator, RawAllToAllVariableCountsWithZeros) {
  auto world = testing::test_world();
  const int r = world->rank();
  const int n = world->size();
  // Rank s sends (s + d) % 3 rows to d, each row filled with 100 * s + d.
  std::vector<int64_t> send(n);
  std::vector<int64_t> recv(n);
  for (int p = 0; p < n; ++p) {
    send[p] = (r + p) % 3;
    recv[p] = (p + r) % 3;
  }
  std::vector<at::Tensor> rows;
  for (int d = 0; d < n; ++d) rows.push_back(at::full({send[d], 4}, 100 * r + d, at::kFloat));
  at::Tensor in = at::cat(rows);  // [sum(send), 4]
  int64_t total = 0;
  for (int64_t c : recv) total += c;
  at::Tensor out = at::empty({total, 4}, at::kFloat);  // [sum(recv), 4]
  world->all_to_all(out, in, recv, send)->wait();
  int64_t offset = 0;
  for (int s = 0; s < n; ++s) {
    EXPECT_TRUE(
        at::equal(out.narrow(0, offset, recv[s]), at::full({recv[s], 4}, 100 * s + r, at::kFloat)));
    offset += recv[s];
  }
}

TEST(MpiCommunicator, RejectsNonContiguousAndWrongDtype) {
  auto world = testing::test_world();
  at::Tensor transposed = at::ones({4, 3}, at::kFloat).t();  // [3, 4], not contiguous
  try {
    world->all_reduce(transposed);
    FAIL() << "non-contiguous tensor accepted";
  } catch (const CommError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not contiguous"));
    EXPECT_THAT(e.what(), HasSubstr("mpi all_reduce #"));
    EXPECT_EQ(e.context().rank, world->rank());
    EXPECT_EQ(e.context().group, "world");
  }
  for (at::ScalarType bad : {at::kHalf, at::kShort, at::kByte, at::kBool}) {
    at::Tensor t = at::ones({4}, at::TensorOptions().dtype(bad));
    try {
      world->all_reduce(t);
      FAIL() << "dtype " << bad << " accepted";
    } catch (const CommError& e) {
      EXPECT_THAT(e.what(), HasSubstr("unsupported dtype"));
    }
  }
  // The communicator is still usable: nothing was issued.
  at::Tensor ok = at::ones({2}, at::kFloat);
  world->all_reduce(ok)->wait();
  EXPECT_EQ(ok[0].item<float>(), static_cast<float>(world->size()));
}

TEST(MpiCommunicator, SequenceNumbersCountOperations) {
  auto world = testing::test_world();
  at::Tensor t = at::ones({1}, at::kFloat);
  world->all_reduce(t)->wait();  // #0
  world->barrier()->wait();      // #1
  at::Tensor bad = at::ones({2, 2}).t();
  try {
    world->all_reduce(bad);  // #2
    FAIL();
  } catch (const CommError& e) {
    EXPECT_EQ(e.context().seq, 2);
    EXPECT_EQ(e.context().op, "all_reduce");
    EXPECT_EQ(e.context().backend, "mpi");
  }
}

TEST(MpiCommunicator, SplitByParity) {
  auto world = testing::test_world();
  auto half = world->split(world->rank() % 2, world->rank(), "parity");
  EXPECT_EQ(half->name(), "parity");
  EXPECT_EQ(half->size(), (world->size() + 1 - world->rank() % 2) / 2);
  EXPECT_EQ(half->rank(), world->rank() / 2);
  at::Tensor t = at::full({1}, world->rank(), at::kLong);
  half->all_reduce(t)->wait();
  int64_t expected = 0;
  for (int p = world->rank() % 2; p < world->size(); p += 2) expected += p;
  EXPECT_EQ(t.item<int64_t>(), expected);
}

}  // namespace
}  // namespace switchyard::comm
