#include "comm/a2a/layout_check.h"

#include <ATen/ATen.h>

#include <sstream>
#include <string>

#include "comm/comm_error.h"
#include "core/check.h"

namespace switchyard::comm {
namespace {

enum Status : int64_t {
  kOk = 0,
  kWrongSize = 1,
  kWrongRank = 2,
  kWrongRows = 3,
  kBadInput = 4,
};

const char* status_text(int64_t status) {
  switch (status) {
    case kWrongSize:
      return "its layout has a different group size";
    case kWrongRank:
      return "its layout is for another rank";
    case kWrongRows:
      return "its input row count differs from the layout's send total";
    case kBadInput:
      return "its input is not a contiguous tensor with a row dim";
    default:
      return "?";
  }
}

CommErrorContext check_context(const Communicator& group, std::string_view strategy) {
  return CommErrorContext{std::string(strategy), "all_to_all layout check",
                          group.name(),          group.rank(),
                          group.size(),          -1};
}

int64_t local_status(const Communicator& group,
                     const AllToAllLayout& layout,
                     const at::Tensor& input) {
  if (layout.size() != group.size()) return kWrongSize;
  if (layout.rank() != group.rank()) return kWrongRank;
  if (!input.defined() || input.dim() < 1 || !input.is_contiguous()) return kBadInput;
  if (input.size(0) != layout.total_send_rows()) return kWrongRows;
  return kOk;
}

}  // namespace

void check_exchange_args(const Communicator& group,
                         const AllToAllLayout& layout,
                         const at::Tensor& input,
                         std::string_view strategy) {
  const int64_t status = local_status(group, layout, input);
  if (status == kOk) return;
  std::ostringstream out;
  out << "rank " << group.rank() << ": " << status_text(status) << " (layout rank " << layout.rank()
      << " of " << layout.size() << ", send total " << layout.total_send_rows() << ", input "
      << (input.defined() ? c10::str(input.sizes()) : "undefined") << ")";
  throw CommError(check_context(group, strategy), out.str());
}

void verify_layout(Communicator& group,
                   const AllToAllLayout& layout,
                   const at::Tensor& input,
                   std::string_view strategy,
                   std::chrono::milliseconds timeout) {
  const int P = group.size();
  const int64_t status = local_status(group, layout, input);
  // [3 + 2P]: status, bytes per row, fingerprint, send counts [P], recv counts [P]
  at::Tensor mine = at::zeros({3 + 2 * int64_t{P}}, at::kLong);
  int64_t* m = mine.data_ptr<int64_t>();
  m[0] = status;
  m[1] = (input.defined() && input.dim() >= 1 && input.size(0) > 0)
             ? input.numel() / input.size(0) * static_cast<int64_t>(input.element_size())
             : -1;  // unknown without rows
  m[2] = static_cast<int64_t>(layout.fingerprint());
  if (status == kOk || status == kWrongRows) {
    for (int p = 0; p < P; ++p) {
      m[3 + p] = layout.send_counts()[p];
      m[3 + P + p] = layout.recv_counts()[p];
    }
  }
  // The gather runs on the input's device (CPU for MPI, CUDA for NCCL).
  const at::Device device = input.defined() ? input.device() : at::Device(at::kCPU);
  at::Tensor mine_dev = mine.to(device);
  at::Tensor all = at::empty({int64_t{P} * (3 + 2 * P)},
                             at::TensorOptions().dtype(at::kLong).device(device));  // [P, 3 + 2P]
  AllGatherOptions options;
  options.timeout = timeout;
  group.all_gather(all, mine_dev, options)->wait();  // host sync
  all = all.cpu();
  const int64_t* a = all.data_ptr<int64_t>();
  auto row = [&](int r) { return a + static_cast<size_t>(r) * (3 + 2 * P); };

  std::ostringstream problems;
  int num_problems = 0;
  auto add = [&](const std::string& text) {
    if (num_problems++ < 4) problems << (num_problems > 1 ? "; " : "") << text;
  };
  for (int r = 0; r < P; ++r) {
    if (row(r)[0] != kOk) add("rank " + std::to_string(r) + ": " + status_text(row(r)[0]));
  }
  if (num_problems == 0) {
    int64_t row_bytes = -1;
    int row_bytes_rank = -1;
    uint64_t fp = 0;
    int fp_rank = -1;
    for (int r = 0; r < P; ++r) {
      const int64_t b = row(r)[1];
      if (b >= 0 && row_bytes >= 0 && b != row_bytes) {
        add("ranks " + std::to_string(row_bytes_rank) + " and " + std::to_string(r) +
            " have different row sizes (" + std::to_string(row_bytes) + " vs " + std::to_string(b) +
            " bytes)");
      } else if (b >= 0 && row_bytes < 0) {
        row_bytes = b;
        row_bytes_rank = r;
      }
      const auto f = static_cast<uint64_t>(row(r)[2]);
      if (f != 0 && fp != 0 && f != fp) {
        add("ranks " + std::to_string(fp_rank) + " and " + std::to_string(r) +
            " hold different count matrices");
      } else if (f != 0 && fp == 0) {
        fp = f;
        fp_rank = r;
      }
    }
    for (int s = 0; s < P; ++s) {
      for (int d = 0; d < P; ++d) {
        const int64_t sent = row(s)[3 + d];
        const int64_t expected = row(d)[3 + P + s];
        if (sent != expected) {
          add("rank " + std::to_string(s) + " sends " + std::to_string(sent) + " rows to rank " +
              std::to_string(d) + " but rank " + std::to_string(d) + " expects " +
              std::to_string(expected) + " from rank " + std::to_string(s));
        }
      }
    }
  }
  if (num_problems == 0) return;
  if (num_problems > 4) problems << "; and " << num_problems - 4 << " more";
  throw CommError(check_context(group, strategy),
                  "ranks disagree on the all-to-all layout: " + problems.str());
}

void check_layout_for_exchange(Communicator& group,
                               const AllToAllLayout& layout,
                               const at::Tensor& input,
                               std::string_view strategy,
                               const AllToAllStrategyOptions& options,
                               bool need_count_matrix) {
  if (!layout.agreed() || options.always_verify_layout) {
    verify_layout(group, layout, input, strategy, options.timeout);
  } else {
    check_exchange_args(group, layout, input, strategy);
  }
  if (need_count_matrix && !layout.has_count_matrix()) {
    throw CommError(
        {std::string(strategy), "all_to_all", group.name(), group.rank(), group.size(), -1},
        "needs a layout with the full count matrix (exchange_counts or "
        "from_count_matrix), not from_counts");
  }
}

void check_node_contiguous(const Communicator* group,
                           const Communicator* intra_node,
                           const Communicator* inter_node,
                           std::string_view strategy) {
  SY_CHECK(group && intra_node && inter_node)
      << strategy << " all-to-all needs three communicators";
  SY_CHECK_EQ(inter_node->size() * intra_node->size(), group->size())
      << "EP group is not N x G node-contiguous";
  SY_CHECK_EQ(group->rank(), inter_node->rank() * intra_node->size() + intra_node->rank())
      << "EP rank is not node * G + local: the EP group is not node-contiguous";
}

}  // namespace switchyard::comm
