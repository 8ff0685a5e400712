#!/usr/bin/env bash
# Process-level tests of the `switchyard train` command.
#   preempt BIN WORKDIR  SIGUSR1 to ONE rank of a plain `mpirun -np 2` job: every rank finishes
#                        its step, one checkpoint is written, the job exits 75; running again
#                        resumes from that step and finishes.
#   kill BIN WORKDIR     SIGKILL of a run that checkpoints every step, at several moments: each
#                        restart resumes from a checkpoint that verifies, and the run finishes.
set -euo pipefail
mode=$1 bin=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
common=(--set model.hidden_size=32 --set model.num_layers=2 --set model.num_heads=2
        --set model.seq_length=32 --set model.ffn_hidden_size=64 --set model.moe.num_experts=4
        --set model.moe.expert.ffn_hidden_size=32 --set train.global_batch_size=8
        --set train.eval_batches=2 --set train.eval_every=0 --set generate.max_new_tokens=8
        --set logging.log_every=1000 --set comm.timeout_ms=60000)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
fail() { echo "FAIL: $*"; exit 1; }

wait_for_lines() {  # file count timeout_s
  for _ in $(seq 1 $((10 * $3))); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 did not reach $2 lines in $3 s"
}

if [ "$mode" = preempt ]; then
  run=$work/run
  args=(train examples/configs/default.pbtxt "${common[@]}" --set parallel.world_size=2
        --set parallel.expert_parallel_size=2 --set comm.ranks_per_node=1
        --set train.num_steps=100000 --set checkpoint.every_steps=0 --set logging.run_dir="$run")
  mpirun -np 2 --oversubscribe --bind-to none "$bin" "${args[@]}" >"$work/first.log" 2>&1 &
  launcher=$!
  wait_for_lines "$run/metrics.jsonl" 5 120
  rank1=$(pgrep -f -n "switchyard train .*logging.run_dir=$run") || fail "no rank process found"
  kill -USR1 "$rank1"
  set +e
  timeout 120 tail --pid="$launcher" -f /dev/null
  wait "$launcher"
  rc=$?
  set -e
  cat "$work/first.log"
  [ "$rc" -eq 75 ] || fail "expected exit status 75 after SIGUSR1, got $rc"
  ckpt=$(ls "$run/checkpoints" | grep '^step-' | tail -1)
  [ -n "$ckpt" ] || fail "no checkpoint written on SIGUSR1"
  step=$((10#${ckpt#step-}))
  [ "$step" -ge 5 ] || fail "checkpoint at step $step, expected >= 5"
  echo "SIGUSR1 to one rank: checkpoint at step $step, exit 75"
  last=$(( step + 3 ))
  mpirun -np 2 --oversubscribe --bind-to none "$bin" "${args[@]}" --set train.num_steps=$last \
    >"$work/second.log" 2>&1 || { cat "$work/second.log"; fail "resumed run failed"; }
  grep -q "resumed from checkpoint at step $step" "$work/second.log" || { cat "$work/second.log"; fail "did not resume from step $step"; }
  tail -4 "$run/metrics.jsonl" | head -1 | grep -q "\"step\":$((step + 1))," || fail "resumed run did not continue at step $((step + 1))"
  echo "PASS: resumed from step $step and continued to step $last"
  # The checkpoint was saved at expert-parallel size 2; generate loads it in one process.
  final=$(ls "$run/checkpoints" | grep '^step-' | tail -1)
  out=$("$bin" generate --checkpoint "$run/checkpoints/$final" --prompt "ROMEO:" \
          --max-new-tokens 12 --temperature 0) || fail "generate failed"
  [ "${out:0:6}" = "ROMEO:" ] && [ "${#out}" -ge 18 ] || fail "generate printed '$out'"
  again=$("$bin" generate --checkpoint "$run/checkpoints/$final" --prompt "ROMEO:" \
            --max-new-tokens 12 --temperature 0)
  [ "$out" = "$again" ] || fail "greedy generation is not deterministic"
  echo "PASS: generate from an EP=2 checkpoint in one process: '$out'"
  "$bin" plot "$run" || fail "plot failed"
  for png in loss.png expert_load_layer0.png; do
    [ -s "$run/$png" ] && head -c 8 "$run/$png" | grep -q PNG || fail "$png missing or not a PNG"
  done
  echo "PASS: plot wrote loss.png and expert-load heatmaps"
  exit 0
fi

if [ "$mode" = kill ]; then
  run=$work/run
  args=(train examples/configs/default.pbtxt "${common[@]}" --set parallel.world_size=0
        --set parallel.expert_parallel_size=1 --set comm.ranks_per_node=0
        --set parallel.threads_per_rank=1 --set checkpoint.every_steps=1 --set checkpoint.keep_last=2
        --set logging.run_dir="$run")
  # A first run killed once its first checkpoint exists (start-up takes seconds on a loaded
  # machine, longer than the fixed delays below), so that some checkpoint must survive.
  "$bin" "${args[@]}" --set train.num_steps=100000 >"$work/killed.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    ls "$run/checkpoints" 2>/dev/null | grep -q '^step-' && break
    sleep 0.1
  done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  for delay in 0.7 1.3 2.1 2.9; do
    "$bin" "${args[@]}" --set train.num_steps=100000 >"$work/killed.log" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
  done
  ls -la "$run/checkpoints"
  latest=$(ls "$run/checkpoints" | grep '^step-' | tail -1)
  [ -n "$latest" ] || fail "no checkpoint survived"
  step=$((10#${latest#step-}))
  "$bin" "${args[@]}" --set train.num_steps=$((step + 2)) >"$work/resumed.log" 2>&1 \
    || { cat "$work/resumed.log"; fail "the run after SIGKILL failed"; }
  grep -q "resumed from checkpoint at step $step" "$work/resumed.log" || { cat "$work/resumed.log"; fail "did not resume from step $step"; }
  echo "PASS: after 4 SIGKILLs the run resumed from step $step and finished"
  exit 0
fi
fail "unknown mode $mode"
