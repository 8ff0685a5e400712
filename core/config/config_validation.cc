#include "core/config/config_validation.h"

#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/input_file.h"

namespace switchyard::config {
namespace {

// Collects issues; each rule reads as `require(condition, path, reason)`.
class Checker {
 public:
  void require(bool ok, const std::string& path, const std::string& reason) {
    if (!ok) issues_.push_back({path, reason});
  }
  template <typename T>
  void positive(T value, const std::string& path) {
    require(value > 0, path, "must be positive, got " + str(value));
  }
  template <typename T>
  void non_negative(T value, const std::string& path) {
    require(value >= 0, path, "must be >= 0, got " + str(value));
  }
  void finite(double value, const std::string& path) {
    require(std::isfinite(value), path, "must be a finite number");
  }
  template <typename T>
  static std::string str(T value) {
    std::ostringstream out;
    out << value;
    return out.str();
  }
  std::vector<ConfigIssue> take() { return std::move(issues_); }

 private:
  std::vector<ConfigIssue> issues_;
};

void check_comm(const ExperimentConfig& c, int world, Checker& k) {
  const CommConfig& comm = c.comm();
  k.non_negative(comm.ranks_per_node(), "comm.ranks_per_node");
  k.positive(comm.timeout_ms(), "comm.timeout_ms");
  k.require(comm.overlap_chunks() >= 1 && comm.overlap_chunks() <= 64, "comm.overlap_chunks",
            "must be between 1 and 64, got " + Checker::str(comm.overlap_chunks()));
  if (world > 0 && comm.ranks_per_node() > 0) {
    k.require(world % comm.ranks_per_node() == 0, "comm.ranks_per_node",
              "must divide the world size (" + Checker::str(world) + "), got " +
                  Checker::str(comm.ranks_per_node()));
  }
  const int ep = c.parallel().expert_parallel_size();
  if (comm.all_to_all() != CommConfig::FLAT && comm.ranks_per_node() > 0 && ep > 0) {
    k.require(ep % comm.ranks_per_node() == 0, "comm.ranks_per_node",
              "must divide parallel.expert_parallel_size (" + Checker::str(ep) +
                  ") when comm.all_to_all is " +
                  CommConfig::AllToAllAlgorithm_Name(comm.all_to_all()) + ", got " +
                  Checker::str(comm.ranks_per_node()));
  }
}

void check_parallel(const ExperimentConfig& c,
                    const ValidationContext& ctx,
                    int world,
                    Checker& k) {
  const ParallelConfig& p = c.parallel();
  k.positive(p.expert_parallel_size(), "parallel.expert_parallel_size");
  k.non_negative(p.world_size(), "parallel.world_size");
  k.non_negative(p.threads_per_rank(), "parallel.threads_per_rank");
  k.positive(p.intra_op_threads(), "parallel.intra_op_threads");
  if (ctx.world_size > 0 && p.world_size() > 0) {
    k.require(ctx.world_size == p.world_size(), "parallel.world_size",
              "is " + Checker::str(p.world_size()) + " but the job runs " +
                  Checker::str(ctx.world_size) + " ranks");
  }
  if (world > 0 && p.expert_parallel_size() > 0) {
    k.require(world % p.expert_parallel_size() == 0, "parallel.expert_parallel_size",
              "must divide the world size (" + Checker::str(world) + "), got " +
                  Checker::str(p.expert_parallel_size()));
  }
  if (c.comm().backend() == CommConfig::NCCL) {
    k.require(ctx.nccl_available, "comm.backend",
              "NCCL requested but this build has no NCCL backend (SWITCHYARD_WITH_NCCL=OFF)");
    k.require(p.device() != ParallelConfig::CPU, "comm.backend",
              "NCCL carries CUDA tensors but parallel.device is CPU");
  }
  k.require(
      c.train().precision() != TrainConfig::BF16 || c.model().kernels() != ModelConfig::FUSED_CPU,
      "model.kernels",
      "FUSED_CPU kernels run float32/float64 only; train.precision BF16 needs AUTO or "
      "GENERIC");
}

void check_router(const MoELayerConfig& m, int hidden, Checker& k) {
  const std::string r = "model.moe.router.";
  const RouterConfig& router = m.router();
  const int e = m.num_experts();
  k.positive(router.top_k(), r + "top_k");
  if (e > 0) {
    k.require(router.top_k() <= e, r + "top_k",
              "must be <= model.moe.num_experts (" + Checker::str(e) + "), got " +
                  Checker::str(router.top_k()));
  }
  k.require(router.input_jitter_eps() >= 0 && router.input_jitter_eps() < 1, r + "input_jitter_eps",
            "must be in [0, 1), got " + Checker::str(router.input_jitter_eps()));
  k.positive(router.init_std(), r + "init_std");
  // Top-1 renormalized over the one selected expert makes every gate exactly 1: the task loss
  // then gives the router no gradient. Switch keeps gate = router probability.
  if ((router.kind() == RouterConfig::TOP_K || router.kind() == RouterConfig::LOCMOE) &&
      router.top_k() == 1) {
    k.require(
        !router.normalize_top_k(), r + "normalize_top_k",
        "must be false with model.moe.router.top_k 1 (every gate would be exactly 1 and the "
        "router would get no gradient from the task loss; Switch: gate = router probability)");
  }
  switch (router.kind()) {
    case RouterConfig::GSHARD:
      k.require(router.top_k() == 2, r + "top_k",
                "must be 2 for kind GSHARD, got " + Checker::str(router.top_k()));
      break;
    case RouterConfig::STABLEMOE:
      k.require(router.top_k() == 1, r + "top_k",
                "must be 1 for kind STABLEMOE, got " + Checker::str(router.top_k()));
      k.non_negative(router.stablemoe().stage2_step(), r + "stablemoe.stage2_step");
      k.positive(router.stablemoe().distilled_dim(), r + "stablemoe.distilled_dim");
      k.non_negative(router.stablemoe().balance_coeff(), r + "stablemoe.balance_coeff");
      k.non_negative(router.stablemoe().distill_coeff(), r + "stablemoe.distill_coeff");
      k.require(!router.aux_free_bias().enabled(), r + "aux_free_bias.enabled",
                "applies to kind TOP_K only (StableMoE balances with stablemoe.balance_coeff)");
      k.require(router.group_limited().num_groups() == 0, r + "group_limited.num_groups",
                "applies to kind TOP_K only");
      if (m.dispatcher().rectify().intra_rank() || m.dispatcher().rectify().fill_in()) {
        k.require(router.stablemoe().counts() == StableMoEConfig::PER_RANK, r + "stablemoe.counts",
                  "must be PER_RANK with model.moe.dispatcher.rectify (rectification works on the "
                  "dispatcher's per-rank capacity)");
      }
      break;
    case RouterConfig::EXPERT_CHOICE:
      k.positive(router.expert_choice().capacity_factor(), r + "expert_choice.capacity_factor");
      if (router.expert_choice().grouping() == ExpertChoiceConfig::PER_POSITION) {
        k.require(!m.dispatcher().shuffle_tokens(), r + "expert_choice.grouping",
                  "PER_POSITION cannot hold with model.moe.dispatcher.shuffle_tokens (the "
                  "shuffle breaks sequences)");
      }
      k.require(!m.dispatcher().batch_independent(), "model.moe.dispatcher.batch_independent",
                "cannot hold with kind EXPERT_CHOICE: experts choose among the whole batch");
      break;
    case RouterConfig::SMILE:
      k.require(router.top_k() == 1, r + "top_k",
                "must be 1 for kind SMILE, got " + Checker::str(router.top_k()));
      k.non_negative(router.smile().balance_coeff(), r + "smile.balance_coeff");
      k.non_negative(router.smile().capacity_factor(), r + "smile.capacity_factor");
      k.require(m.dispatcher().capacity_factor() == 0, "model.moe.dispatcher.capacity_factor",
                "must be 0 for kind SMILE (its per-level capacity is "
                "model.moe.router.smile.capacity_factor)");
      break;
    case RouterConfig::LOCMOE:
      k.non_negative(router.locmoe().locality_coeff(), r + "locmoe.locality_coeff");
      k.require(
          router.locmoe().capacity_bound_delta() > 0 && router.locmoe().capacity_bound_delta() < 1,
          r + "locmoe.capacity_bound_delta", "must be in (0, 1)");
      k.require(router.locmoe().capacity_bound() != LocMoEConfig::SET ||
                    m.dispatcher().capacity_factor() > 0,
                r + "locmoe.capacity_bound",
                "SET needs a capacity-limited layer (model.moe.dispatcher.capacity_factor > 0)");
      if (router.locmoe().grouped_average_pooling() && e > 0 && hidden > 0) {
        k.require(hidden % e == 0, r + "locmoe.grouped_average_pooling",
                  "needs model.hidden_size (" + Checker::str(hidden) +
                      ") divisible by model.moe.num_experts (" + Checker::str(e) + ")");
      }
      break;
    case RouterConfig::TOP_K:
      break;
  }
  k.non_negative(router.aux_free_bias().update_rate(), r + "aux_free_bias.update_rate");
  const GroupLimitedConfig& g = router.group_limited();
  k.require(g.num_groups() >= -1, r + "group_limited.num_groups",
            "must be -1 (one per node), 0 (off) or positive, got " + Checker::str(g.num_groups()));
  if (g.num_groups() > 0 && e > 0) {
    k.require(e % g.num_groups() == 0, r + "group_limited.num_groups",
              "must divide model.moe.num_experts (" + Checker::str(e) + "), got " +
                  Checker::str(g.num_groups()));
    k.require(g.group_top_k() >= 1 && g.group_top_k() <= g.num_groups(),
              r + "group_limited.group_top_k",
              "must be in [1, num_groups], got " + Checker::str(g.group_top_k()));
    if (g.group_top_k() >= 1 && router.top_k() % g.group_top_k() != 0) {
      k.require(false, r + "group_limited.group_top_k",
                "must divide model.moe.router.top_k (" + Checker::str(router.top_k()) + "), got " +
                    Checker::str(g.group_top_k()));
    }
    if (e % g.num_groups() == 0) {
      k.require(router.top_k() <= g.group_top_k() * (e / g.num_groups()), r + "top_k",
                "exceeds the experts in group_limited.group_top_k groups");
    }
  }
}

// SMILE and LocMoE route by node: the EP group must be whole, equal, consecutive nodes (or lie
// within one node), with the experts divisible into its nodes.
void check_topology_routers(const ExperimentConfig& c, Checker& k) {
  const RouterConfig::Kind kind = c.model().moe().router().kind();
  if (kind != RouterConfig::SMILE && kind != RouterConfig::LOCMOE) return;
  const int g = c.comm().ranks_per_node();
  const int ep = c.parallel().expert_parallel_size();
  const int e = c.model().moe().num_experts();
  const std::string name = RouterConfig::Kind_Name(kind);
  if (g > 0 && ep > 0) {
    k.require(ep % g == 0 || g % ep == 0, "comm.ranks_per_node",
              "must divide parallel.expert_parallel_size (" + Checker::str(ep) +
                  ") or be a multiple of it for kind " + name + ", got " + Checker::str(g));
    if (ep % g == 0 && e > 0) {
      k.require(e % (ep / g) == 0, "model.moe.num_experts",
                "must be divisible by the " + Checker::str(ep / g) +
                    " nodes of the expert-parallel group for kind " + name + ", got " +
                    Checker::str(e));
    }
  }
}

void check_moe(const ExperimentConfig& c, Checker& k) {
  const MoELayerConfig& m = c.model().moe();
  const int e = m.num_experts();
  k.positive(e, "model.moe.num_experts");
  const int ep = c.parallel().expert_parallel_size();
  if (e > 0 && ep > 0) {
    k.require(e % ep == 0, "model.moe.num_experts",
              "must be a multiple of parallel.expert_parallel_size (" + Checker::str(ep) +
                  "), got " + Checker::str(e));
  }
  check_router(m, c.model().hidden_size(), k);
  check_topology_routers(c, k);
  const DispatcherConfig& d = m.dispatcher();
  k.non_negative(d.capacity_factor(), "model.moe.dispatcher.capacity_factor");
  k.non_negative(d.min_capacity(), "model.moe.dispatcher.min_capacity");
  if (d.rectify().intra_rank() || d.rectify().fill_in()) {
    k.require(d.capacity_factor() > 0, "model.moe.dispatcher.rectify",
              "needs model.moe.dispatcher.capacity_factor > 0 (nothing is dropped or padded when "
              "dropless)");
    k.positive(d.rectify().intra_rank_capacity_factor(),
               "model.moe.dispatcher.rectify.intra_rank_capacity_factor");
    k.require(m.router().kind() != RouterConfig::EXPERT_CHOICE, "model.moe.dispatcher.rectify",
              "cannot be used with router kind EXPERT_CHOICE (experts choose tokens: nothing is "
              "dropped by a token's choice)");
  }
  k.positive(m.expert().ffn_hidden_size(), "model.moe.expert.ffn_hidden_size");
  const AuxLossConfig& a = m.aux_loss();
  if (d.shuffle_tokens()) {
    k.require(!d.batch_independent(), "model.moe.dispatcher.shuffle_tokens",
              "cannot hold with model.moe.dispatcher.batch_independent (the shuffle mixes "
              "sequences)");
    k.require(a.load_balancing() != AuxLossConfig::SEQUENCE, "model.moe.dispatcher.shuffle_tokens",
              "cannot hold with model.moe.aux_loss.load_balancing SEQUENCE (the shuffle breaks "
              "sequences)");
  }
  k.non_negative(a.load_balancing_coeff(), "model.moe.aux_loss.load_balancing_coeff");
  if (a.global_statistics()) {
    k.require(!d.shuffle_tokens(), "model.moe.aux_loss.global_statistics",
              "cannot hold with model.moe.dispatcher.shuffle_tokens (ranks then route unequal "
              "token counts)");
  }
  k.non_negative(a.z_loss_coeff(), "model.moe.aux_loss.z_loss_coeff");
  k.non_negative(a.erc().coeff(), "model.moe.aux_loss.erc.coeff");
  k.require(a.erc().alpha() >= 0 && std::isfinite(a.erc().alpha()), "model.moe.aux_loss.erc.alpha",
            "must be a finite number >= 0, got " + Checker::str(a.erc().alpha()));
  if ((a.erc().coeff() > 0 || a.erc().measure()) && m.router().kind() == RouterConfig::LOCMOE &&
      m.router().locmoe().grouped_average_pooling()) {
    k.require(
        false,
        a.erc().coeff() > 0 ? "model.moe.aux_loss.erc.coeff" : "model.moe.aux_loss.erc.measure",
        "cannot be used with model.moe.router.locmoe.grouped_average_pooling (GrAP gating has "
        "no learned router rows to couple with the experts)");
  }
  k.non_negative(a.dpsl().coeff(), "model.moe.aux_loss.dpsl.coeff");
  k.positive(a.dpsl().symmetric_concentration(), "model.moe.aux_loss.dpsl.symmetric_concentration");
  k.non_negative(a.dpsl().warmup_only_steps(), "model.moe.aux_loss.dpsl.warmup_only_steps");
  if (a.dpsl().coeff() > 0) {
    k.require(e >= 2, "model.moe.aux_loss.dpsl.coeff",
              "needs model.moe.num_experts >= 2 (a Dirichlet prior over one expert is a point)");
  }
  if (a.dpsl().concentration_size() > 0) {
    k.require(a.dpsl().concentration_size() == e, "model.moe.aux_loss.dpsl.concentration",
              "needs one value per expert (" + Checker::str(e) + "), got " +
                  Checker::str(a.dpsl().concentration_size()));
    for (float alpha : a.dpsl().concentration()) {
      k.require(alpha > 0, "model.moe.aux_loss.dpsl.concentration",
                "every value must be positive, got " + Checker::str(alpha));
    }
  }
}

void check_model(const ExperimentConfig& c, Checker& k) {
  const ModelConfig& m = c.model();
  k.positive(m.vocab_size(), "model.vocab_size");
  k.positive(m.hidden_size(), "model.hidden_size");
  k.positive(m.num_layers(), "model.num_layers");
  k.positive(m.num_heads(), "model.num_heads");
  k.positive(m.seq_length(), "model.seq_length");
  k.positive(m.ffn_hidden_size(), "model.ffn_hidden_size");
  if (m.hidden_size() > 0 && m.num_heads() > 0) {
    k.require(m.hidden_size() % m.num_heads() == 0, "model.num_heads",
              "must divide model.hidden_size (" + Checker::str(m.hidden_size()) + "), got " +
                  Checker::str(m.num_heads()));
    if (m.positions() == ModelConfig::ROTARY && m.hidden_size() % m.num_heads() == 0) {
      k.require(
          (m.hidden_size() / m.num_heads()) % 2 == 0, "model.positions",
          "ROTARY needs an even head size, got " + Checker::str(m.hidden_size() / m.num_heads()));
    }
  }
  k.require(m.dropout() >= 0 && m.dropout() < 1, "model.dropout",
            "must be in [0, 1), got " + Checker::str(m.dropout()));
  k.non_negative(m.moe_every_n_layers(), "model.moe_every_n_layers");
  if (m.moe_every_n_layers() > 0) check_moe(c, k);
  if (c.data().format() == DataConfig::TEXT && c.data().tokenizer() == DataConfig::BYTE) {
    k.require(m.vocab_size() >= 256, "model.vocab_size",
              "must be >= 256 for the BYTE tokenizer, got " + Checker::str(m.vocab_size()));
  }
}

void check_train(const ExperimentConfig& c, int world, Checker& k) {
  const TrainConfig& t = c.train();
  k.positive(t.global_batch_size(), "train.global_batch_size");
  if (world > 0 && t.global_batch_size() > 0) {
    k.require(t.global_batch_size() % world == 0, "train.global_batch_size",
              "must be divisible by the world size (" + Checker::str(world) + "), got " +
                  Checker::str(t.global_batch_size()));
  }
  k.positive(t.num_steps(), "train.num_steps");
  k.non_negative(t.eval_every(), "train.eval_every");
  k.positive(t.eval_batches(), "train.eval_batches");
  const OptimizerConfig& o = t.optimizer();
  const std::string p = "train.optimizer.";
  k.finite(o.learning_rate(), p + "learning_rate");
  k.positive(o.learning_rate(), p + "learning_rate");
  k.non_negative(o.min_learning_rate(), p + "min_learning_rate");
  if (o.learning_rate() > 0) {
    k.require(o.min_learning_rate() <= o.learning_rate(), p + "min_learning_rate",
              "must be <= train.optimizer.learning_rate");
  }
  k.non_negative(o.warmup_steps(), p + "warmup_steps");
  k.non_negative(o.weight_decay(), p + "weight_decay");
  k.require(o.beta1() >= 0 && o.beta1() < 1, p + "beta1",
            "must be in [0, 1), got " + Checker::str(o.beta1()));
  k.require(o.beta2() >= 0 && o.beta2() < 1, p + "beta2",
            "must be in [0, 1), got " + Checker::str(o.beta2()));
  k.positive(o.epsilon(), p + "epsilon");
  k.non_negative(o.grad_clip(), p + "grad_clip");
}

void check_data(const ExperimentConfig& c, const ValidationContext& ctx, Checker& k) {
  const DataConfig& d = c.data();
  k.require(d.val_fraction() > 0 && d.val_fraction() < 1, "data.val_fraction",
            "must be in (0, 1), got " + Checker::str(d.val_fraction()));
  const bool blend = d.blend_size() > 0;  // then `path` is not read
  k.require(blend || !d.path().empty(), "data.path",
            d.format() == DataConfig::INDEXED ? "must name a dataset prefix" : "must name a file");
  const bool spm = d.tokenizer() == DataConfig::SENTENCEPIECE;
  k.require(!spm || !d.tokenizer_model().empty(), "data.tokenizer_model",
            "must name a SentencePiece .model file when data.tokenizer is SENTENCEPIECE");
  k.require(spm || d.tokenizer_model().empty(), "data.tokenizer_model",
            "is set, but data.tokenizer is BYTE (set data.tokenizer: SENTENCEPIECE)");
  k.require(!blend || d.format() == DataConfig::INDEXED, "data.blend",
            "needs data.format: INDEXED");
  double total = 0;
  for (int i = 0; i < d.blend_size(); ++i) {
    const std::string field = "data.blend[" + std::to_string(i) + "]";
    const double w = d.blend(i).weight();
    k.require(std::isfinite(w) && w >= 0, field + ".weight",
              "must be finite and >= 0, got " + Checker::str(w));
    if (std::isfinite(w) && w > 0) total += w;
    k.require(!d.blend(i).path().empty(), field + ".path", "must name a dataset prefix");
  }
  k.require(!blend || total > 0, "data.blend", "every weight is 0");
  if (!ctx.check_files) return;
  // Existence, type and size only; the contents are checked where they are read.
  const auto check = [&](const std::string& path, const char* what, uint64_t max_bytes,
                         const std::string& field) {
    try {
      const uint64_t size = check_input_file({path, what, max_bytes, field});
      k.require(size > 0, field, "file '" + path + "' is empty");
    } catch (const ConfigError& e) {
      k.require(false, e.path(), e.reason());
    }
  };
  const auto check_dataset = [&](const std::string& prefix, const std::string& field) {
    check(prefix + ".idx", "dataset index", kMaxIndexedDatasetBytes, field);
    check(prefix + ".bin", "dataset tokens", kMaxIndexedDatasetBytes, field);
  };
  if (spm && !d.tokenizer_model().empty()) {
    check(d.tokenizer_model(), "tokenizer model", kMaxTokenizerModelBytes, "data.tokenizer_model");
  }
  if (blend) {
    for (int i = 0; i < d.blend_size(); ++i) {
      if (d.format() == DataConfig::INDEXED && !d.blend(i).path().empty()) {
        check_dataset(d.blend(i).path(), "data.blend[" + std::to_string(i) + "].path");
      }
    }
  } else if (!d.path().empty()) {
    if (d.format() == DataConfig::INDEXED) {
      check_dataset(d.path(), "data.path");
    } else {
      check(d.path(), "corpus", kMaxCorpusBytes, "data.path");
    }
  }
}

void check_rest(const ExperimentConfig& c, Checker& k) {
  k.non_negative(c.checkpoint().every_steps(), "checkpoint.every_steps");
  k.positive(c.checkpoint().keep_last(), "checkpoint.keep_last");
  k.require(!c.logging().run_dir().empty(), "logging.run_dir", "must not be empty");
  k.positive(c.logging().log_every(), "logging.log_every");
  k.non_negative(c.logging().routing_probe_every(), "logging.routing_probe_every");
  k.non_negative(c.generate().max_new_tokens(), "generate.max_new_tokens");
  k.non_negative(c.generate().temperature(), "generate.temperature");
  k.non_negative(c.generate().top_k(), "generate.top_k");
}

}  // namespace

std::vector<ConfigIssue> find_config_issues(const ExperimentConfig& config,
                                            const ValidationContext& context) {
  const int world = context.world_size > 0 ? context.world_size : config.parallel().world_size();
  Checker k;
  check_comm(config, world, k);
  check_parallel(config, context, world, k);
  check_model(config, k);
  check_train(config, world, k);
  check_data(config, context, k);
  check_rest(config, k);
  return k.take();
}

std::vector<ConfigIssue> find_config_warnings(const ExperimentConfig& config) {
  std::vector<ConfigIssue> warnings;
  const ModelConfig& m = config.model();
  if (m.moe_every_n_layers() > 0 && m.moe().router().kind() == RouterConfig::EXPERT_CHOICE &&
      m.moe().router().expert_choice().grouping() == ExpertChoiceConfig::ROUTING_GROUP) {
    warnings.push_back(
        {"model.moe.router.expert_choice.grouping",
         "ROUTING_GROUP in a causal LM lets a token's routing depend on later tokens of its "
         "sequence (losses not comparable with token choice); PER_POSITION is causal"});
  }
  return warnings;
}

void validate_config(const ExperimentConfig& config, const ValidationContext& context) {
  const std::vector<ConfigIssue> issues = find_config_issues(config, context);
  if (!issues.empty()) throw ConfigError(issues.front().path, issues.front().reason);
}

}  // namespace switchyard::config
