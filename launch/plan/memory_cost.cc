#include "launch/plan/memory_cost.h"

#include <algorithm>

#include "launch/plan/compute_cost.h"

namespace switchyard::plan {

ParamCount param_count(const ModelShape& m, const Layout& l) {
  const double H = static_cast<double>(m.hidden);
  ParamCount p;
  const double embed = m.vocab * H + m.seq * H + (m.tie_embeddings ? 0 : m.vocab * H);
  const double attn = 4 * H * H + 4 * H;
  const double norms = 4 * H;
  const double dense_ffn = 2 * H * m.dense_ffn + m.dense_ffn + H;
  const double router = H * m.experts;
  const double expert = m.expert_matrices * H * m.expert_ffn + m.expert_ffn + H;
  p.dense = embed + m.layers * (attn + norms) + (m.layers - m.moe_layers) * dense_ffn +
            m.moe_layers * router + 2 * H;
  p.expert_total = static_cast<double>(m.moe_layers * m.experts) * expert;
  p.expert_local = p.expert_total / l.ep;
  return p;
}

MemoryBytes memory_per_rank(const ModelShape& m, const Layout& l) {
  const ParamCount p = param_count(m, l);
  const double params = p.dense + p.expert_local;
  const double b = static_cast<double>(m.act_bytes);
  const double T = tokens_per_rank(m, l);
  const double H = static_cast<double>(m.hidden);
  MemoryBytes out;
  out.weights = params * (4 + (m.act_bytes == 2 ? 2 : 0));
  out.grads = params * 4;
  out.optimizer = params * 8;
  out.activations =
      m.layers * (T * (kActivationWidths * H + 2 * m.dense_ffn) * b + T * m.heads * m.seq * b) +
      T * m.vocab * 4 * 2;
  const double c = m.capacity_factor > 0 ? std::max(1.0, static_cast<double>(m.capacity_factor))
                                         : 1.0 + std::max(0.0, m.load_cv);
  const double rows = T * m.top_k * expert_imbalance(m);
  out.dispatch =
      m.moe_layers * (4 * T * m.top_k * c * H * b + rows * (2 * H + 2 * m.expert_ffn) * b);
  return out;
}

}  // namespace switchyard::plan
