#include "train/corpus.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/errors.h"
#include "core/input_file.h"

namespace switchyard::train {
namespace {

// [N] int64 token ids (token_file.h), decoded straight into the tensor.
at::Tensor tokenize(const std::string& bytes, const CorpusOptions& o) {
  if (o.format == CorpusFormat::kText && o.tokenizer != nullptr &&
      o.tokenizer->digest() != "byte") {
    check_vocab_fits(*o.tokenizer, o.vocab_size);
    const std::vector<int64_t> encoded = o.tokenizer->encode(bytes);
    return at::tensor(encoded, at::kLong);  // [N]
  }
  at::Tensor ids = at::empty({token_count(bytes.size(), o.format, o.path)}, at::kLong);
  decode_tokens(bytes, o.format, o.vocab_size, o.path, ids.data_ptr<int64_t>());
  return ids;
}

}  // namespace

void check_vocab_fits(const data::Tokenizer& tokenizer, int64_t model_vocab_size) {
  if (tokenizer.vocab_size() > model_vocab_size) {
    throw ConfigError("model.vocab_size", "is " + std::to_string(model_vocab_size) +
                                              ", smaller than the vocabulary (" +
                                              std::to_string(tokenizer.vocab_size()) +
                                              ") of tokenizer " + tokenizer.description());
  }
}

Corpus load_corpus(const CorpusOptions& o) {
  const std::string bytes = read_input_file({o.path, "corpus", kMaxCorpusBytes, "data.path"});
  if (bytes.empty()) throw ConfigError("data.path", "file '" + o.path + "' is empty");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) {
    throw ConfigError("data.val_fraction", "must be in (0, 1)");
  }
  const at::Tensor ids = tokenize(bytes, o);  // [N]
  const int64_t n = ids.numel();
  const int64_t n_val = static_cast<int64_t>(std::floor(static_cast<double>(n) * o.val_fraction));
  const int64_t n_train = n - n_val;
  const int64_t need = o.seq_length + 1;
  if (n_train < need || n_val < need) {
    throw ConfigError("data.path", "'" + o.path + "' has " + std::to_string(n) +
                                       " tokens: the train/val splits (" + std::to_string(n_train) +
                                       "/" + std::to_string(n_val) + ") each need at least " +
                                       "model.seq_length + 1 = " + std::to_string(need));
  }
  return Corpus{ids.slice(0, 0, n_train).clone(), ids.slice(0, n_train, n).clone()};
}

}  // namespace switchyard::train
