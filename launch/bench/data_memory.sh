#!/usr/bin/env bash
# Peak resident memory of `switchyard data prepare` and of training from the prepared dataset,
# for a small and a large generated corpus (copies of the bundled one, documents separated by
# blank lines): the figures of docs/benchmarks.md "Data pipeline memory".
#   launch/bench/data_memory.sh BIN WORKDIR SMALL_COPIES LARGE_COPIES [TOKENIZER]
# TOKENIZER: a SentencePiece .model or byte (default byte). Needs python3 (for getrusage).
set -euo pipefail
bin=$(realpath "$1") work=$2 small=$3 large=$4 tokenizer=${5:-byte}
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
[ "$tokenizer" = byte ] || tokenizer=$(realpath "$tokenizer")
cd "$work"

# Runs a command; prints its peak RSS in MiB (the command's output goes to LOG).
peak_rss() {
  local log=$1; shift
  python3 - "$log" "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as log:
    rc = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
if rc != 0:
    sys.exit(f"{sys.argv[2:]} failed ({rc}); see {sys.argv[1]}")
print(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
}

# The process itself (LibTorch and the other shared libraries mapped and relocated).
echo "baseline: 'switchyard --help' peaks at $(peak_rss help.log "$bin" --help) MiB"
printf '%-8s %10s %12s %14s %16s %14s\n' corpus "text MB" documents tokens "prepare MiB" "train MiB"
for copies in "$small" "$large"; do
  corpus=corpus-$copies.txt
  if [ ! -f "$corpus" ]; then
    for _ in $(seq "$copies"); do cat "$src/examples/data/tinyshakespeare.txt"; printf '\n\n'; done \
      >"$corpus"
  fi
  prep=$(peak_rss "prepare-$copies.log" "$bin" data prepare --tokenizer "$tokenizer" \
    --documents blank-lines --threads 2 --quiet --out "ds-$copies" "$corpus")
  info=$("$bin" data info "ds-$copies")
  docs=$(echo "$info" | sed -E 's/.*: ([0-9]+) documents, ([0-9]+) .*/\1/')
  tokens=$(echo "$info" | sed -E 's/.*: ([0-9]+) documents, ([0-9]+) .*/\2/')
  vocab=$(echo "$info" | sed -E 's/.*vocabulary ([0-9]+),.*/\1/')
  model_args=(--set data.tokenizer=BYTE --set data.tokenizer_model=)
  [ "$tokenizer" = byte ] || model_args=(--set data.tokenizer=SENTENCEPIECE
                                        --set data.tokenizer_model="$tokenizer")
  # 100 steps of the example's model at one rank, with evaluation.
  trn=$(peak_rss "train-$copies.log" "$bin" train "$src/examples/configs/spm_indexed.pbtxt" \
    --set data.path="ds-$copies" "${model_args[@]}" --set model.vocab_size="$vocab" \
    --set train.num_steps=100 --set train.eval_every=50 --set checkpoint.every_steps=0 \
    --set generate.max_new_tokens=0 --set logging.log_every=1000 \
    --set logging.run_dir="run-$copies")
  printf '%-8s %10.0f %12s %14s %16s %14s\n' "x$copies" \
    "$(awk -v b="$(stat -c %s "$corpus")" 'BEGIN { print b / 1e6 }')" "$docs" "$tokens" "$prep" "$trn"
done
