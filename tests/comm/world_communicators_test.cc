// make_world_communicators on a CPU run: comm.backend AUTO and MPI give one MPI world that also
// serves the host collectives, NCCL on CPU tensors is refused before any communicator exists, and
// an MPI communicator that takes device buffers (the CUDA-aware path) moves CPU tensors exactly as
// a plain one does.
#include <mpi.h>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/make_communicator.h"
#include "comm/mpi/mpi_communicator.h"
#include "core/errors.h"

namespace switchyard::comm {
namespace {

using ::testing::HasSubstr;

config::CommConfig comm_config(config::CommConfig::Backend backend) {
  config::CommConfig c;
  c.set_backend(backend);
  c.set_timeout_ms(60000);
  return c;
}

TEST(WorldCommunicators, AutoOnCpuIsOneMpiWorld) {
  EXPECT_EQ(config::CommConfig().backend(), config::CommConfig::AUTO);  // the default
  for (auto backend : {config::CommConfig::AUTO, config::CommConfig::MPI}) {
    const WorldCommunicators w = make_world_communicators(
        comm_config(backend), /*tensors_on_cuda=*/false, TimeoutAction::kThrow);
    EXPECT_EQ(w.choice.backend, Backend::kMpi);
    EXPECT_EQ(w.choice.transport, DeviceTransport::kDirect);
    EXPECT_EQ(w.world, w.host_world);
    EXPECT_EQ(w.world->backend_name(), "mpi");
    EXPECT_NE(dynamic_cast<MpiCommunicator*>(w.world.get()), nullptr);  // no staging layer
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    EXPECT_EQ(w.world->size(), size);
    at::Tensor t = at::ones({4});  // [4]
    w.world->all_reduce(t)->wait();
    EXPECT_TRUE(at::equal(t, at::full({4}, static_cast<float>(size))));
  }
}

TEST(WorldCommunicators, NcclOnCpuTensorsIsRefusedWithTheField) {
  try {
    make_world_communicators(comm_config(config::CommConfig::NCCL), false, TimeoutAction::kThrow);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "comm.backend");
  }
}

TEST(WorldCommunicators, NonPositiveTimeoutIsRefused) {
  config::CommConfig c = comm_config(config::CommConfig::AUTO);
  c.set_timeout_ms(0);
  try {
    make_world_communicators(c, false, TimeoutAction::kThrow);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "comm.timeout_ms");
  }
}

// device_buffers = true only widens what is accepted: CPU tensors (all this machine has) move
// bit for bit as on a plain communicator, including the self block of a variable all-to-all.
TEST(WorldCommunicators, DeviceBufferCommunicatorMovesCpuTensorsUnchanged) {
  MpiCommunicatorOptions plain_options;
  plain_options.name = "plain";
  MpiCommunicatorOptions device_options = plain_options;
  device_options.name = "device_buffers";
  device_options.device_buffers = true;
  auto plain = MpiCommunicator::duplicate(MPI_COMM_WORLD, plain_options);
  auto device = MpiCommunicator::duplicate(MPI_COMM_WORLD, device_options);
  const int n = plain->size();
  const int r = plain->rank();
  // Rank r sends (r + p) % 3 + 1 rows of width 2 to peer p.
  std::vector<int64_t> send(n), recv(n);
  int64_t send_rows = 0, recv_rows = 0;
  for (int p = 0; p < n; ++p) {
    send[p] = (r + p) % 3 + 1;
    recv[p] = (p + r) % 3 + 1;
    send_rows += send[p];
    recv_rows += recv[p];
  }
  const at::Tensor in = at::arange(send_rows * 2, at::kFloat).add(100 * r).view({send_rows, 2});
  at::Tensor out_plain = at::zeros({recv_rows, 2});   // [recv_rows, 2]
  at::Tensor out_device = at::zeros({recv_rows, 2});  // [recv_rows, 2]
  plain->all_to_all(out_plain, in, recv, send)->wait();
  device->all_to_all(out_device, in, recv, send)->wait();
  EXPECT_TRUE(at::equal(out_plain, out_device));
  at::Tensor a = at::full({3}, static_cast<float>(r));
  at::Tensor b = a.clone();
  plain->all_reduce(a)->wait();
  device->all_reduce(b)->wait();
  EXPECT_TRUE(at::equal(a, b));
}

}  // namespace
}  // namespace switchyard::comm
