#include "launch/plan/model_shape.h"

namespace switchyard::plan {

ModelShape model_shape_of(const config::ExperimentConfig& config) {
  const auto& m = config.model();
  ModelShape s;
  s.vocab = m.vocab_size();
  s.hidden = m.hidden_size();
  s.layers = m.num_layers();
  s.heads = m.num_heads();
  s.seq = m.seq_length();
  s.dense_ffn = m.ffn_hidden_size();
  s.tie_embeddings = m.tie_embeddings();
  s.moe_layers = 0;
  for (int64_t layer = 0; layer < s.layers; ++layer) {  // train/experiment.cc's rule
    if (m.moe_every_n_layers() > 0 && (layer + 1) % m.moe_every_n_layers() == 0) ++s.moe_layers;
  }
  const auto& moe = m.moe();
  s.experts = moe.num_experts();
  s.top_k = moe.router().top_k();
  s.expert_ffn = moe.expert().ffn_hidden_size();
  s.expert_matrices = moe.expert().kind() == config::ExpertConfig::SWIGLU ? 3 : 2;
  s.capacity_factor = moe.dispatcher().capacity_factor();
  s.global_batch = config.train().global_batch_size();
  s.act_bytes = config.train().precision() == config::TrainConfig::BF16 ? 2 : 4;
  return s;
}

double tokens_per_rank(const ModelShape& m, const Layout& l) {
  return static_cast<double>(m.global_batch) * static_cast<double>(m.seq) / l.world;
}

}  // namespace switchyard::plan
