#!/usr/bin/env bash
# TensorBoard files of a real `switchyard train` run, stopped and resumed: the event files in the
# run directory, read by TensorBoard's own reader, hold exactly the values of metrics.jsonl.
#   tensorboard_run_test.sh BIN PYTHON READER_SCRIPT WORKDIR
set -euo pipefail
bin=$1 python=$2 reader=$3 work=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
run=$work/run
args=(train examples/configs/default.pbtxt --set model.hidden_size=32 --set model.num_layers=2
      --set model.num_heads=2 --set model.seq_length=32 --set model.ffn_hidden_size=64
      --set model.moe.num_experts=4 --set model.moe.expert.ffn_hidden_size=32
      --set train.global_batch_size=8 --set train.eval_batches=2 --set train.eval_every=5
      --set generate.max_new_tokens=0 --set logging.log_every=1000
      --set logging.routing_probe_every=5 --set parallel.world_size=1
      --set parallel.expert_parallel_size=1 --set comm.ranks_per_node=0
      --set logging.run_dir="$run")
# 12 steps, a checkpoint at the end; then resumed to 20 steps: a second event file.
"$bin" "${args[@]}" --set train.num_steps=12 --set checkpoint.every_steps=12 >"$work/first.log" 2>&1 \
  || { cat "$work/first.log"; echo "FAIL: first run"; exit 1; }
sleep 1.1  # the second file's name (unix seconds) sorts after the first
"$bin" "${args[@]}" --set train.num_steps=20 >"$work/second.log" 2>&1 \
  || { cat "$work/second.log"; echo "FAIL: resumed run"; exit 1; }
grep -q "resumed from checkpoint at step 12" "$work/second.log" \
  || { cat "$work/second.log"; echo "FAIL: did not resume"; exit 1; }
n=$(ls "$run" | grep -c tfevents) || true
[ "$n" -eq 2 ] || { ls -l "$run"; echo "FAIL: expected 2 event files, found $n"; exit 1; }
"$python" "$reader" --run-dir "$run"
# logging.tensorboard=false writes none.
off=$work/off
"$bin" "${args[@]}" --set train.num_steps=2 --set logging.tensorboard=false \
  --set logging.run_dir="$off" >"$work/off.log" 2>&1 || { cat "$work/off.log"; exit 1; }
if ls "$off" | grep -q tfevents; then echo "FAIL: event file with logging.tensorboard=false"; exit 1; fi
echo "PASS"
