#include "launch/plan/bench_predict.h"

#include "launch/plan/compute_cost.h"

namespace switchyard::plan {

ExchangeCost predict_bench_a2a(const ClusterSpec& cluster,
                               const Layout& layout,
                               A2aAlgorithm algorithm,
                               int64_t bytes_per_peer) {
  // A rank sends P blocks of bytes_per_peer: uniform over the ranks.
  return exchange_cost(cluster, layout, algorithm, static_cast<double>(layout.ep),
                       static_cast<double>(bytes_per_peer), -1);
}

MoeLayerPrediction predict_bench_moe_layer(const ClusterSpec& cluster,
                                           const Layout& layout,
                                           A2aAlgorithm algorithm,
                                           const MoeLayerBench& b) {
  ModelShape m;
  m.hidden = b.hidden;
  m.expert_ffn = b.ffn;
  m.experts = b.experts;
  m.top_k = b.top_k;
  m.capacity_factor = b.capacity_factor;
  m.load_cv = b.load_cv;
  m.act_bytes = 4;
  m.seq = 1;
  m.global_batch = b.tokens * layout.world;  // tokens_per_rank = b.tokens
  m.moe_layers = 1;
  MoeLayerPrediction p;
  p.compute_s = moe_layer_compute(cluster, layout, m).total();
  if (layout.ep > 1) {
    const MoeLayerComm c = moe_layer_comm(cluster, layout, m, algorithm);
    p.comm = c.a2a;
    p.comm += c.count_exchange;
  }
  return p;
}

}  // namespace switchyard::plan
