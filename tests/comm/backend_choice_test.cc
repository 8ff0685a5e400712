// comm.backend: every row of the table in comm/backend_choice.h, the two refused requests with
// their one-line reasons, and the MPI library's CUDA-awareness query.
#include "comm/backend_choice.h"

#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.h"

namespace switchyard::comm {
namespace {

using ::testing::HasSubstr;

BackendFacts facts(bool cuda, bool nccl, bool cuda_aware) {
  BackendFacts f;
  f.tensors_on_cuda = cuda;
  f.nccl_built = nccl;
  f.mpi_cuda_aware = cuda_aware;
  return f;
}

struct Row {
  BackendRequest request;
  bool cuda, nccl, cuda_aware;
  Backend backend;
  DeviceTransport transport;
};

TEST(BackendChoice, EveryRowOfTheTable) {
  using B = Backend;
  using T = DeviceTransport;
  using R = BackendRequest;
  const Row rows[] = {
      // AUTO on the CPU is MPI whatever the build and the library offer.
      {R::kAuto, false, false, false, B::kMpi, T::kDirect},
      {R::kAuto, false, true, true, B::kMpi, T::kDirect},
      // AUTO on CUDA: NCCL when built, else MPI reading device memory or staging through host.
      {R::kAuto, true, true, false, B::kNccl, T::kDirect},
      {R::kAuto, true, true, true, B::kNccl, T::kDirect},
      {R::kAuto, true, false, true, B::kMpi, T::kCudaAwareMpi},
      {R::kAuto, true, false, false, B::kMpi, T::kHostStaging},
      // MPI requested: never NCCL.
      {R::kMpi, false, true, true, B::kMpi, T::kDirect},
      {R::kMpi, true, true, true, B::kMpi, T::kCudaAwareMpi},
      {R::kMpi, true, true, false, B::kMpi, T::kHostStaging},
      // NCCL requested on CUDA with NCCL built.
      {R::kNccl, true, true, false, B::kNccl, T::kDirect},
  };
  for (const Row& row : rows) {
    const BackendChoice c = choose_backend(row.request, facts(row.cuda, row.nccl, row.cuda_aware));
    SCOPED_TRACE(c.reason);
    EXPECT_EQ(c.backend, row.backend);
    EXPECT_EQ(c.transport, row.transport);
    EXPECT_FALSE(c.reason.empty());
    EXPECT_EQ(c.reason.find('\n'), std::string::npos);
  }
}

TEST(BackendChoice, ReasonsSayWhy) {
  EXPECT_THAT(choose_backend(BackendRequest::kAuto, facts(true, false, false)).reason,
              HasSubstr("not CUDA-aware"));
  EXPECT_THAT(choose_backend(BackendRequest::kAuto, facts(false, true, false)).reason,
              HasSubstr("AUTO: CPU tensors"));
  EXPECT_THAT(choose_backend(BackendRequest::kAuto, facts(true, true, false)).reason,
              HasSubstr("NCCL"));
}

TEST(BackendChoice, NcclWithoutNcclInTheBuildIsAConfigError) {
  try {
    choose_backend(BackendRequest::kNccl, facts(true, false, true));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "comm.backend");
    EXPECT_THAT(e.reason(), HasSubstr("no NCCL"));
  }
}

TEST(BackendChoice, NcclOnCpuTensorsIsAConfigError) {
  try {
    choose_backend(BackendRequest::kNccl, facts(false, true, true));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "comm.backend");
    EXPECT_THAT(e.reason(), HasSubstr("CPU"));
  }
}

TEST(BackendChoice, Names) {
  EXPECT_EQ(backend_name(Backend::kMpi), "MPI");
  EXPECT_EQ(backend_name(Backend::kNccl), "NCCL");
  EXPECT_EQ(transport_name(DeviceTransport::kHostStaging), "host staging");
  EXPECT_EQ(transport_name(DeviceTransport::kCudaAwareMpi), "CUDA-aware MPI");
  EXPECT_EQ(transport_name(DeviceTransport::kDirect), "direct");
}

// A library built without CUDA support (the compile-time macro absent or 0, as in Debian's Open
// MPI) must never be reported CUDA-aware; with the macro set, the run-time query decides.
TEST(BackendChoice, MpiCudaSupportFollowsTheLibrary) {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  EXPECT_EQ(mpi_reports_cuda_support(), MPIX_Query_cuda_support() == 1);
#else
  EXPECT_FALSE(mpi_reports_cuda_support());
#endif
}

}  // namespace
}  // namespace switchyard::comm
