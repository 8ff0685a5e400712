#include "train/grad_sync.h"

#include <cmath>

#include <ATen/ATen.h>

#include "comm/host_collectives.h"
#include "core/check.h"

namespace switchyard::train {
namespace {

void ensure_grad(at::Tensor& p) {
  if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
}

}  // namespace

GradientSynchronizer::GradientSynchronizer(std::vector<at::Tensor> dense_params,
                                           std::vector<at::Tensor> expert_params,
                                           std::shared_ptr<comm::Communicator> world,
                                           std::shared_ptr<comm::Communicator> expert_data,
                                           GradSyncOptions options)
    : world_(std::move(world)), expert_data_(std::move(expert_data)) {
  SY_CHECK(world_ != nullptr);
  SY_CHECK(expert_params.empty() || expert_data_ != nullptr);
  dense_buckets_ = make_buckets(dense_params, options.bucket_bytes);
  expert_buckets_ = make_buckets(expert_params, options.bucket_bytes);
}

std::vector<GradientSynchronizer::Bucket> GradientSynchronizer::make_buckets(
    const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  // Consecutive parameters of one dtype share a bucket until it would exceed bucket_bytes.
  std::vector<Bucket> buckets;
  int64_t bytes = 0;
  for (const at::Tensor& p : params) {
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !buckets.empty() && bytes + size <= bucket_bytes &&
                      buckets.back().params.front().scalar_type() == p.scalar_type();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().params.push_back(p);
    bytes += size;
  }
  for (Bucket& b : buckets) {
    int64_t numel = 0;
    for (const at::Tensor& p : b.params) numel += p.numel();
    b.flat = at::empty({numel}, b.params.front().options().requires_grad(false));
  }
  return buckets;
}

void GradientSynchronizer::synchronize() {
  const double scale = 1.0 / static_cast<double>(world_->size());
  std::vector<std::shared_ptr<comm::Work>> works;
  auto issue = [&](std::vector<Bucket>& buckets, comm::Communicator& group) {
    if (group.size() == 1) {  // nothing to sum; the scale is 1 when the world is one rank
      for (Bucket& b : buckets) {
        for (at::Tensor& p : b.params) ensure_grad(p);
      }
      return;
    }
    for (Bucket& b : buckets) {
      int64_t offset = 0;
      for (at::Tensor& p : b.params) {
        ensure_grad(p);
        b.flat.narrow(0, offset, p.numel()).copy_(p.grad().reshape({-1}));  // pack [numel]
        offset += p.numel();
      }
      works.push_back(group.all_reduce(b.flat));  // [bucket numel], SUM
    }
  };
  issue(dense_buckets_, *world_);
  if (!expert_buckets_.empty()) issue(expert_buckets_, *expert_data_);
  for (auto& w : works) w->wait();
  last_num_collectives_ = static_cast<int>(works.size());
  auto unpack = [&](std::vector<Bucket>& buckets, comm::Communicator* group) {
    if (group == nullptr || group->size() == 1) {
      if (scale != 1.0) {
        for (Bucket& b : buckets) {
          for (at::Tensor& p : b.params) p.mutable_grad().mul_(scale);
        }
      }
      return;
    }
    for (Bucket& b : buckets) {
      b.flat.mul_(scale);
      int64_t offset = 0;
      for (at::Tensor& p : b.params) {
        p.mutable_grad().copy_(b.flat.narrow(0, offset, p.numel()).view(p.sizes()));
        offset += p.numel();
      }
    }
  };
  unpack(dense_buckets_, world_.get());
  unpack(expert_buckets_, expert_data_.get());
}

namespace {

double squared_norm(const std::vector<at::Tensor>& params) {
  double sum = 0;
  at::Tensor on_device;  // [] float64: device gradients' sum, read once (one host sync)
  for (const at::Tensor& p : params) {
    if (!p.grad().defined()) continue;
    const at::Tensor g = p.grad().contiguous();
    if (!g.device().is_cpu()) {
      const at::Tensor sq = g.to(at::kDouble).pow(2).sum();
      on_device = on_device.defined() ? on_device + sq : sq;
    } else if (g.scalar_type() == at::kFloat) {
      // One pass, accumulated in double (no float64 copy of the gradient).
      const float* x = g.data_ptr<float>();
      const int64_t n = g.numel();
      double acc[4] = {0, 0, 0, 0};  // independent chains: 4 adds in flight
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) {
        for (int j = 0; j < 4; ++j) acc[j] += static_cast<double>(x[i + j]) * x[i + j];
      }
      for (; i < n; ++i) acc[0] += static_cast<double>(x[i]) * x[i];
      sum += (acc[0] + acc[1]) + (acc[2] + acc[3]);
    } else {
      sum += g.to(at::kDouble).pow(2).sum().item<double>();
    }
  }
  return on_device.defined() ? sum + on_device.item<double>() : sum;
}

}  // namespace

double global_grad_norm(const std::vector<at::Tensor>& dense_params,
                        const std::vector<at::Tensor>& expert_params,
                        comm::Communicator& host_expert) {
  const double expert_sq =
      comm::all_reduce_sum(host_expert, std::vector<double>{squared_norm(expert_params)})[0];
  return std::sqrt(squared_norm(dense_params) + expert_sq);
}

double clip_factor(double norm, double max_norm) {
  if (max_norm <= 0 || !(norm > max_norm)) return 1.0;
  return max_norm / (norm + 1e-6);
}

double clip_gradients(const std::vector<at::Tensor>& params, double norm, double max_norm) {
  const double factor = clip_factor(norm, max_norm);
  if (factor == 1.0) return factor;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) p.grad().mul_(factor);
  }
  return factor;
}

}  // namespace switchyard::train
