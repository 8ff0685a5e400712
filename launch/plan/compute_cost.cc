#include "launch/plan/compute_cost.h"

#include <algorithm>

#include "launch/plan/link_cost.h"

namespace switchyard::plan {

RankDevice rank_device(const ClusterSpec& cluster, const Layout& layout, const ModelShape& model) {
  const double share = cluster.compute_shared_by_host() ? ranks_per_cpu_host(cluster, layout) : 1.0;
  const double tflops = model.act_bytes == 2 && cluster.has_gemm_tflops_bf16()
                            ? cluster.gemm_tflops_bf16()
                            : cluster.gemm_tflops_fp32();
  return {tflops * 1e12 / share, cluster.memory_bandwidth_gbps() * 1e9 / share};
}

double gemm_seconds(double m, double n, double k, double bytes, const RankDevice& device) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const double compute = 2 * m * n * k / device.flops;
  const double memory = (m * k + k * n + m * n) * bytes / device.bytes_per_s;
  return std::max(compute, memory);
}

double expert_imbalance(const ModelShape& model) {
  const double busiest = 1.0 + std::max(0.0, model.load_cv);
  return model.capacity_factor > 0 ? std::min(busiest, model.capacity_factor) : busiest;
}

ComputeTime moe_layer_compute(const ClusterSpec& cluster,
                              const Layout& layout,
                              const ModelShape& model) {
  const RankDevice dev = rank_device(cluster, layout, model);
  const double b = static_cast<double>(model.act_bytes);
  const double T = tokens_per_rank(model, layout);
  const double H = static_cast<double>(model.hidden);
  const double local_experts = static_cast<double>(model.experts) / layout.ep;
  const double rows = T * model.top_k * expert_imbalance(model);
  const double per_expert = rows / local_experts;
  ComputeTime t;
  // Router in float32: [T, H] x [H, E]; backward 2 more.
  t.router_s = 3 * gemm_seconds(T, static_cast<double>(model.experts), H, 4, dev);
  // Experts: per local expert, [R_e, H] x [H, F] (x2 with SwiGLU's gate) and [R_e, F] x [F, H].
  const double F = static_cast<double>(model.expert_ffn);
  const double up = (model.expert_matrices - 1) * gemm_seconds(per_expert, F, H, b, dev);
  const double down = gemm_seconds(per_expert, H, F, b, dev);
  t.expert_s = 3 * local_experts * (up + down);
  t.elementwise_s = kDispatchPasses * T * model.top_k * H * b / dev.bytes_per_s +
                    2 * rows * F * b / dev.bytes_per_s;  // the activation, forward + backward
  return t;
}

ComputeTime step_compute(const ClusterSpec& cluster,
                         const Layout& layout,
                         const ModelShape& model) {
  const RankDevice dev = rank_device(cluster, layout, model);
  const double b = static_cast<double>(model.act_bytes);
  const double T = tokens_per_rank(model, layout);
  const double H = static_cast<double>(model.hidden);
  const double S = static_cast<double>(model.seq);
  const double seqs = T / S;
  const double head = H / static_cast<double>(model.heads);
  ComputeTime t;
  // Attention per block: QKV [T, H] x [H, 3H], output [T, H] x [H, H], and per sequence and
  // head [S, d] x [d, S] scores and [S, S] x [S, d] values.
  const double attn =
      gemm_seconds(T, 3 * H, H, b, dev) + gemm_seconds(T, H, H, b, dev) +
      seqs * model.heads * (gemm_seconds(S, S, head, b, dev) + gemm_seconds(S, head, S, b, dev));
  const double F = static_cast<double>(model.dense_ffn);
  const double dense_ffn = gemm_seconds(T, F, H, b, dev) + gemm_seconds(T, H, F, b, dev);
  const double lm_head = gemm_seconds(T, static_cast<double>(model.vocab), H, b, dev);
  const double dense_layers = static_cast<double>(model.layers - model.moe_layers);
  t.dense_s = 3 * (model.layers * attn + dense_layers * dense_ffn + lm_head);
  t.elementwise_s = kElementwisePasses * model.layers * T * H * b / dev.bytes_per_s;
  if (model.moe_layers > 0) {
    const ComputeTime moe = moe_layer_compute(cluster, layout, model);
    t.router_s = model.moe_layers * moe.router_s;
    t.expert_s = model.moe_layers * moe.expert_s;
    t.elementwise_s += model.moe_layers * moe.elementwise_s;
  }
  return t;
}

}  // namespace switchyard::plan
