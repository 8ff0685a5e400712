#!/usr/bin/env bash
# From raw text to a subword training run with the documented commands (docs/data.md):
# `tokenizer train`, `data prepare`, `train examples/configs/spm_indexed.pbtxt` (short: its loss
# falls), `generate` (decoded subword text), resume, and the refusals: bad dataset files (one
# line, exit 2, no run directory written), another tokenizer on resume, a dataset prepared with
# another tokenizer.
#   spm_indexed_run_test.sh BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$src/examples/data/tinyshakespeare.txt
rm -rf "$work" && mkdir -p "$work"
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

# 1. A BPE model of 500 pieces and the dataset, documents separated by blank lines.
# (into a directory that does not exist yet, as docs/data.md's commands do)
"$bin" tokenizer train --vocab-size 500 --type bpe --out new/dir/spm "$corpus" >tok.log 2>&1 \
  || { cat tok.log; fail "tokenizer train"; }
cp new/dir/spm.model new/dir/spm.vocab .
[ -s spm.model ] && [ -s spm.vocab ] || fail "no spm.model / spm.vocab"
"$bin" data prepare --tokenizer spm.model --documents blank-lines --threads 2 --out ds "$corpus" \
  >prep.log 2>&1 || { cat prep.log; fail "data prepare"; }
grep -q "wrote ds.bin and ds.idx" prep.log || { cat prep.log; fail "prepare summary"; }
"$bin" data info ds --check >info.log 2>&1 || { cat info.log; fail "data info"; }
grep -q "vocabulary 500" info.log || { cat info.log; fail "info: vocabulary"; }
"$bin" data prepare --tokenizer spm.model --quiet --out deep/er/ds2 "$corpus" >/dev/null \
  && [ -s deep/er/ds2.idx ] || fail "data prepare into a new directory"

# 2. Training from it (two data-parallel-free steps of the example, shrunk), loss falls.
args=(train "$src/examples/configs/spm_indexed.pbtxt" --set data.path=ds
      --set data.tokenizer_model=spm.model --set model.vocab_size=500 --set model.hidden_size=64
      --set model.num_layers=2 --set model.num_heads=2 --set model.seq_length=32
      --set model.ffn_hidden_size=128 --set model.moe.expert.ffn_hidden_size=64
      --set train.global_batch_size=8 --set train.eval_every=0 --set train.eval_batches=2
      --set train.optimizer.warmup_steps=5 --set generate.max_new_tokens=12
      --set logging.log_every=1000 --set checkpoint.every_steps=30 --set logging.run_dir=run)
"$bin" "${args[@]}" --set train.num_steps=30 >first.log 2>&1 || { cat first.log; fail "train"; }
grep -q "indexed dataset ds.bin" first.log || { cat first.log; fail "not trained from ds"; }
# The run records its tokenizer: the model file and its SHA-256.
digest=$(sha256sum spm.model | cut -d' ' -f1)
grep -q "\"digest\": \"$digest\"" run/tokenizer.json && grep -q '"model": "spm.model"' run/tokenizer.json \
  || { cat run/tokenizer.json; fail "run/tokenizer.json"; }
python3 - run/metrics.jsonl <<'PY'
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if "loss" in r]
first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
print(f"loss: first 5 steps {first:.3f}, last 5 steps {last:.3f}")
assert len(losses) == 30 and last < first - 0.2, (first, last)
PY
grep -A1 -e "--- sample ---" first.log | tail -1 | grep -q "^ROMEO:" \
  || { cat first.log; fail "the sample does not start with the decoded prompt"; }

# 3. generate decodes subword text from the checkpoint with the run's model.
ckpt=run/checkpoints/step-00000030
"$bin" generate --checkpoint "$ckpt" --prompt "JULIET:" --max-new-tokens 16 >gen.log 2>&1 \
  || { cat gen.log; fail "generate"; }
head -c 7 gen.log | grep -q "JULIET:" || { cat gen.log; fail "generate output"; }
[ "$(wc -c <gen.log)" -gt 12 ] || { cat gen.log; fail "nothing generated"; }

# 4. Resuming with another tokenizer model is refused in one line, exit 2.
"$bin" tokenizer train --vocab-size 400 --type unigram --out other "$corpus" >/dev/null 2>&1
set +e
"$bin" "${args[@]}" --set train.num_steps=40 --set data.tokenizer_model=other.model \
  >other.log 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { cat other.log; fail "another tokenizer: exit $rc, expected 2"; }
grep -q "data.path: .*ds.idx.*prepared with tokenizer" other.log \
  || { cat other.log; fail "another tokenizer: message"; }
# ... and so is a checkpoint of another tokenizer, whatever the data (new data, same vocabulary).
"$bin" data prepare --tokenizer other.model --documents blank-lines --out ds_other "$corpus" \
  --quiet >/dev/null
set +e
"$bin" "${args[@]}" --set train.num_steps=40 --set data.tokenizer_model=other.model \
  --set data.path=ds_other >resume_other.log 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { cat resume_other.log; fail "checkpoint of another tokenizer: exit $rc"; }
grep -q "data.tokenizer_model: checkpoint .* was trained with tokenizer 'spm.model'" \
  resume_other.log || { cat resume_other.log; fail "checkpoint of another tokenizer: message"; }
# The right one resumes.
"$bin" "${args[@]}" --set train.num_steps=40 >resume.log 2>&1 || { cat resume.log; fail "resume"; }
grep -q "resumed from checkpoint at step 30" resume.log || { cat resume.log; fail "no resume"; }

# 5. Bad dataset files: one line, exit 2, no run directory.
check_refused() {  # NAME PREFIX EXPECTED-TEXT
  set +e
  "$bin" data info "$2" >"$1.info.log" 2>&1
  local rc_info=$?
  "$bin" "${args[@]}" --set train.num_steps=2 --set data.path="$2" \
    --set logging.run_dir="run_$1" >"$1.train.log" 2>&1
  local rc_train=$?
  set -e
  [ $rc_info -eq 2 ] && [ "$(wc -l <"$1.info.log")" -eq 1 ] \
    || { cat "$1.info.log"; fail "$1: data info exit $rc_info"; }
  grep -q "$3" "$1.info.log" || { cat "$1.info.log"; fail "$1: message"; }
  [ $rc_train -eq 2 ] || { cat "$1.train.log"; fail "$1: train exit $rc_train"; }
  [ "$(grep -c "error" "$1.train.log")" -eq 1 ] || { cat "$1.train.log"; fail "$1: one line"; }
  grep -q "$3" "$1.train.log" || { cat "$1.train.log"; fail "$1: train message"; }
  [ ! -e "run_$1" ] || fail "$1: train wrote run_$1"
}
cp ds.idx bad_magic.idx && cp ds.bin bad_magic.bin
printf 'XXXXXXXX' | dd of=bad_magic.idx bs=1 seek=0 conv=notrunc status=none
check_refused magic bad_magic "bad_magic.idx"
cp ds.idx short.idx && head -c $(( $(stat -c %s ds.bin) - 2 )) ds.bin >short.bin
check_refused truncated short "short.bin"
cp ds.idx past.idx && cp ds.bin past.bin
# The last document offset (N + 1 uint64 offsets from byte 128) past the end of the tokens.
size=$(stat -c %s past.idx)
printf '\xff\xff\xff\x00\x00\x00\x00\x00' | dd of=past.idx bs=1 seek=$(( size - 8 )) conv=notrunc \
  status=none
check_refused offsets past "past.idx"
# A tokenizer (and so a dataset) whose vocabulary is larger than the model's: the tokenizer is
# checked first, before anything is written.
set +e
"$bin" "${args[@]}" --set train.num_steps=2 --set model.vocab_size=300 \
  --set logging.run_dir=run_vocab >vocab.log 2>&1
rc=$?
set -e
[ $rc -eq 2 ] \
  && grep -q "model.vocab_size: is 300, smaller than the vocabulary (500) of tokenizer" vocab.log \
  && [ ! -e run_vocab ] || { cat vocab.log; fail "vocabulary mismatch: exit $rc"; }
echo "PASS"
