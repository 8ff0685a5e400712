#!/usr/bin/env bash
# Fault suite on a real short training run across 2 emulated hosts x 2 ranks (docs/cluster.md).
#   fault_test.sh MODE SWITCHYARD LINK_RELAY WORKDIR
# MODE:
#   reference  an uninterrupted run; its per-step losses are what the other modes must reproduce
#   killrank   SIGKILL one rank of host 1 mid-run: the job ends within 10 s naming the lost rank;
#              running again resumes from the last checkpoint; losses == reference, bitwise
#   cutlink    cut host 1's data cable mid-run (control network up, as when only the data fabric
#              fails): the job ends within timeout + 5 s with the comm watchdog's line; resume
#   shortcut   cut host 1's data cable for 2 s (shorter than the timeout), then reconnect: the job
#              finishes by itself with the reference losses
#   killhost   SIGKILL every process of host 1 (its orted and ranks): the job ends within 10 s;
#              resume
# Checkpoints every 4 steps; data over link relays (CLUSTER_DATA=relay) so the cable can be cut.
set -uo pipefail
mode=$1 bin=$2 relay=$3 work=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cluster/cluster.sh"

fail() {
  echo "FAIL ($mode): $*"
  exit 1
}

steps=16
timeout_ms=6000
[ "$mode" = shortcut ] && timeout_ms=15000
run=$work/$mode
rm -rf "$run" && mkdir -p "$run"
args=(train "$src/examples/configs/default.pbtxt"
      --set model.hidden_size=32 --set model.num_layers=2 --set model.num_heads=2
      --set model.seq_length=32 --set model.ffn_hidden_size=64 --set model.moe.num_experts=4
      --set model.moe_every_n_layers=1
      --set model.moe.expert.ffn_hidden_size=32 --set train.global_batch_size=8
      --set train.eval_batches=1 --set train.eval_every=0 --set generate.max_new_tokens=4
      --set logging.log_every=1000 --set parallel.world_size=4 --set parallel.expert_parallel_size=4
      --set parallel.threads_per_rank=1 --set comm.ranks_per_node=0 --set comm.all_to_all=HIERARCHICAL
      --set comm.timeout_ms=$timeout_ms --set checkpoint.every_steps=4 --set checkpoint.keep_last=10
      --set train.num_steps=$steps --set "data.path=$src/examples/data/tinyshakespeare.txt"
      --set "logging.run_dir=$run/run")

# "step loss" per line, the last record of each step (a resumed run rewrites steps after the
# checkpoint), losses printed with all 17 significant digits by the JSON writer.
losses() {
  python3 - "$1" <<'EOF'
import json, sys
last = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "loss" in r and "step" in r:
        last[r["step"]] = repr(r["loss"])
for s in sorted(last):
    print(s, last[s])
EOF
}

wait_for_steps() {  # n timeout_s
  local f=$run/run/metrics.jsonl
  for _ in $(seq $((10 * $2))); do
    [ -f "$f" ] && [ "$(grep -c '"loss"' "$f")" -ge "$1" ] && return 0
    kill -0 "$CLUSTER_MPIRUN_PID" 2>/dev/null || fail "the job ended before step $1: $(tail -20 "$run/first.log")"
    sleep 0.1
  done
  fail "no step $1 within $2 s"
}

# Pid and world rank of one `switchyard train` rank running on host I.
rank_on_host() {
  local p
  for p in $(cluster_host_pids "$1"); do
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$bin train"; then
      echo "$p $(tr '\0' '\n' <"/proc/$p/environ" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')"
      return 0
    fi
  done
  return 1
}

compare_with_reference() {
  local ref=$work/reference/losses.txt
  [ -s "$ref" ] || fail "no reference losses at $ref (the cluster.fault.reference test runs first)"
  losses "$run/run/metrics.jsonl" >"$run/losses.txt"
  [ "$(wc -l <"$run/losses.txt")" -eq "$steps" ] || fail "expected $steps steps, got $(wc -l <"$run/losses.txt")"
  diff "$ref" "$run/losses.txt" >"$run/losses.diff" || { cat "$run/losses.diff"; fail "losses differ from the uninterrupted run"; }
  echo "PASS: all $steps losses equal the uninterrupted run's, bitwise"
}

resume_and_compare() {
  local ckpt step rc
  ckpt=$(ls "$run/run/checkpoints" 2>/dev/null | grep '^step-' | tail -1)
  [ -n "$ckpt" ] || fail "no checkpoint before the fault"
  step=$((10#${ckpt#step-}))
  cluster_mpirun 4 --timeout 240 "$bin" "${args[@]}" >"$run/resume.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || { tail -30 "$run/resume.log"; fail "resumed run exited $rc"; }
  grep -q "resumed from checkpoint at step $step" "$run/resume.log" || { tail -30 "$run/resume.log"; fail "did not resume from step $step"; }
  echo "PASS: resumed from the checkpoint at step $step"
  compare_with_reference
}

CLUSTER_DATA=relay CLUSTER_RELAY=$relay cluster_up 2 2

if [ "$mode" = reference ]; then
  t0=$(date +%s.%N)
  cluster_mpirun 4 --timeout 240 "$bin" "${args[@]}" >"$run/first.log" 2>&1 || { tail -30 "$run/first.log"; fail "reference run failed"; }
  grep -q "2 nodes x 2" "$run/first.log" || { head -20 "$run/first.log"; fail "the job did not detect 2 nodes x 2 ranks"; }
  losses "$run/run/metrics.jsonl" >"$run/losses.txt"
  [ "$(wc -l <"$run/losses.txt")" -eq "$steps" ] || fail "reference has $(wc -l <"$run/losses.txt") steps"
  echo "PASS: reference run of $steps steps on 2 hosts x 2 ranks in $(echo "$(date +%s.%N) - $t0" | bc) s"
  exit 0
fi

cluster_mpirun_bg "$run/first.log" 4 --timeout 240 "$bin" "${args[@]}"
wait_for_steps 6 120

case $mode in
  killrank)
    read -r pid victim < <(rank_on_host 1) || fail "no rank process found on host 1"
    t0=$(date +%s.%N)
    kill -9 "$pid"
    echo "killed world rank $victim (pid $pid) at step $(grep -c '"loss"' "$run/run/metrics.jsonl")"
    limit=10 ;;
  cutlink)
    t0=$(date +%s.%N)
    cluster_cut 1
    limit=$((timeout_ms / 1000 + 5)) ;;
  shortcut)
    cluster_cut 1
    sleep 2
    dropped=$(cluster_reconnect 1)
    [ "${dropped:-0}" -gt 0 ] || fail "the cut dropped no frames: the job was not communicating"
    echo "the 2 s cut dropped $dropped frames of live traffic"
    cluster_wait_mpirun 200
    rc=$CLUSTER_MPIRUN_STATUS
    [ "$rc" = 0 ] || { tail -30 "$run/first.log"; fail "after a 2 s cut the job ended with '$rc'"; }
    compare_with_reference
    exit 0 ;;
  killhost)
    t0=$(date +%s.%N)
    cluster_kill_host 1
    limit=10 ;;
  *) fail "unknown mode" ;;
esac

cluster_wait_mpirun $((limit + 20))
rc=$CLUSTER_MPIRUN_STATUS
elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
echo "job ended with status '$rc' $elapsed s after the fault (limit $limit s)"
tail -25 "$run/first.log"
[ "$rc" != hung ] || fail "the job hung for $((limit + 20)) s after the fault"
[ "$rc" != 0 ] || fail "the job exited 0 after the fault"
(($(echo "$elapsed <= $limit" | bc))) || fail "the job took $elapsed s to end (limit $limit s)"
case $mode in
  killrank)
    grep -Eq "rank $victim .*(exited on signal 9|Killed)|process rank $victim " "$run/first.log" \
      || fail "the output does not name the lost rank $victim" ;;
  cutlink)
    grep -Eq "switchyard: comm timeout: world rank [0-9]+: mpi [a-z_]+ #[0-9]+ on group '[a-z_]+'" "$run/first.log" \
      || fail "no comm watchdog line in the output"
    grep -m1 "comm timeout" "$run/first.log"
    cluster_reconnect 1 >/dev/null ;;
  killhost)
    grep -q "lost communication with a remote daemon" "$run/first.log" \
      && grep -q "on node $(cluster_ns 1)" "$run/first.log" \
      || fail "the output does not name the lost host $(cluster_ns 1)" ;;
esac
resume_and_compare
