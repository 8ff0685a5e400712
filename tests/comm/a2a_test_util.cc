#include "tests/comm/a2a_test_util.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>
#include <stdexcept>

namespace switchyard::comm::testing {

std::shared_ptr<MpiCommunicator> test_world(std::chrono::milliseconds timeout) {
  MpiCommunicatorOptions options;
  options.name = "world";
  options.timeout = timeout;
  options.on_timeout = TimeoutAction::kThrow;
  return MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
}

MPI_Comm raw(const Communicator& comm) {
  const auto* mpi = dynamic_cast<const MpiCommunicator*>(&comm);
  if (mpi == nullptr) throw std::runtime_error("not an MpiCommunicator");
  return mpi->mpi_comm();
}

std::vector<int64_t> random_count_matrix(std::mt19937_64& rng, int P, int pattern) {
  std::vector<int64_t> m(static_cast<size_t>(P) * P, 0);
  std::uniform_int_distribution<int64_t> small(0, 6);
  std::uniform_int_distribution<int> pick(0, P - 1);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  switch (pattern) {
    case 0:
      for (auto& c : m) c = small(rng);
      break;
    case 1:
      for (auto& c : m) c = coin(rng) < 0.7 ? 0 : small(rng) + 1;
      break;
    case 2: {
      for (auto& c : m) c = small(rng);
      const int silent_sender = pick(rng);
      const int silent_receiver = pick(rng);
      for (int d = 0; d < P; ++d) m[silent_sender * P + d] = 0;
      for (int s = 0; s < P; ++s) m[s * P + silent_receiver] = 0;
      break;
    }
    case 3:
      break;
    case 4:
      m[pick(rng) * P + pick(rng)] = small(rng) + 1;
      break;
    case 5: {
      const int hot = pick(rng);
      for (int s = 0; s < P; ++s) {
        for (int d = 0; d < P; ++d) m[s * P + d] = d == hot ? 10 + small(rng) : coin(rng) < 0.5;
      }
      break;
    }
    default:
      for (auto& c : m) c = 3;
      break;
  }
  return m;
}

at::Tensor make_input(int64_t rows, int64_t hidden, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (dtype == at::kLong || dtype == at::kInt) {
    return at::randint(-100000, 100000, {rows, hidden}, gen, at::TensorOptions().dtype(dtype));
  }
  return at::randn({rows, hidden}, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

at::Tensor reference_all_to_all(MPI_Comm comm,
                                const at::Tensor& input,
                                const std::vector<int64_t>& count_matrix) {
  int P = 1;
  int me = 0;
  MPI_Comm_size(comm, &P);
  MPI_Comm_rank(comm, &me);
  int64_t row_bytes = static_cast<int64_t>(input.element_size());
  for (int64_t d = 1; d < input.dim(); ++d) row_bytes *= input.size(d);
  // Gather every rank's whole input: [sum over ranks of rows, ...] as bytes.
  std::vector<int> bytes(P);
  const int my_bytes = static_cast<int>(input.size(0) * row_bytes);
  MPI_Allgather(&my_bytes, 1, MPI_INT, bytes.data(), 1, MPI_INT, comm);
  std::vector<int> displs(P, 0);
  for (int p = 1; p < P; ++p) displs[p] = displs[p - 1] + bytes[p - 1];
  std::vector<char> all(static_cast<size_t>(displs[P - 1] + bytes[P - 1]) + 1);
  MPI_Allgatherv(input.data_ptr(), my_bytes, MPI_BYTE, all.data(), bytes.data(), displs.data(),
                 MPI_BYTE, comm);
  // Single-process computation of this rank's output: rows for `me`, in source order.
  int64_t total = 0;
  for (int s = 0; s < P; ++s) total += count_matrix[s * P + me];
  std::vector<int64_t> sizes = input.sizes().vec();
  sizes[0] = total;
  at::Tensor out = at::empty(sizes, input.options());
  char* dst = static_cast<char*>(out.data_ptr());
  for (int s = 0; s < P; ++s) {
    int64_t offset = 0;  // rows of s's input before its block for `me`
    for (int d = 0; d < me; ++d) offset += count_matrix[s * P + d];
    const int64_t n = count_matrix[s * P + me] * row_bytes;
    if (n == 0) continue;  // dst may be null when nothing is received (UBSan: memcpy(nullptr))
    std::memcpy(dst, all.data() + displs[s] + offset * row_bytes, static_cast<size_t>(n));
    dst += n;
  }
  return out;
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  if (a.numel() == 0) return true;
  const at::Tensor ca = a.contiguous();
  const at::Tensor cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

}  // namespace switchyard::comm::testing
