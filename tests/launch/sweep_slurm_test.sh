#!/usr/bin/env bash
# `switchyard sweep slurm` against a real one-node Slurm (ctest launch.sweep_slurm, label slurm):
#   sweep_slurm_test.sh BIN WORKDIR
# 1. Starts the test Slurm (tests/launch/local_slurm.sh); if it cannot be installed or started
#    the test is skipped (exit 77) with the reason.
# 2. Writes the job-array script of a 2-member sweep; `sbatch --test-only` must accept it.
# 3. Submits it: both array tasks must complete and each member must be finished (DONE).
#    Submitting it again runs tasks that only skip their finished members.
set -euo pipefail
bin=$(realpath "$1")
work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
source "$src/tests/launch/local_slurm.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

cleanup() {
  local rc=$?
  if [ -n "${SLURM_CONF:-}" ]; then
    scancel --full --signal=KILL --quiet --user=root 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -z "$(squeue -h 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  slurm_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

slurm_ensure_packages || skip "slurm-wlm/munge are not installed and could not be installed"
slurm_start "$work/cluster" || skip "the test Slurm did not start (see above)"

cd "$src"
cat >"$work/two.pbtxt" <<EOT
name: "two"
base: "$src/examples/configs/default.pbtxt"
set: "parallel.world_size=2"
set: "parallel.expert_parallel_size=2"
set: "comm.ranks_per_node=1"
set: "model.hidden_size=32"
set: "model.num_layers=2"
set: "model.num_heads=2"
set: "model.seq_length=32"
set: "model.ffn_hidden_size=64"
set: "model.moe.num_experts=4"
set: "model.moe.expert.ffn_hidden_size=32"
set: "train.global_batch_size=8"
set: "train.num_steps=4"
set: "train.eval_every=0"
set: "train.eval_batches=1"
set: "train.optimizer.warmup_steps=2"
set: "checkpoint.every_steps=0"
set: "generate.max_new_tokens=4"
seeds: [1, 2]
EOT
out=$work/sweep
"$bin" sweep slurm "$work/two.pbtxt" --out "$out" --time 00:10:00 | tee "$work/slurm.txt"
script=$out/sweep.sbatch
[ -x "$script" ] || fail "no executable $script"
grep -qx "submit: sbatch $script" "$work/slurm.txt" || fail "no sbatch line printed"
grep -qx "#SBATCH --array=0-1" "$script" || fail "array range is not 0-1"
grep -qx "#SBATCH --ntasks=2" "$script" || fail "ntasks is not 2"
test_only=$(sbatch --test-only "$script" 2>&1) || fail "sbatch --test-only refused the script: $test_only"
echo "$test_only"
echo "$test_only" | grep -q "to start at" || fail "unexpected sbatch --test-only output"
echo "PASS: sbatch --test-only accepts the array script"

job=$(sbatch --parsable "$script") || fail "sbatch failed"
echo "submitted array job $job"
for _ in $(seq 1 3000); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.1
done
for t in 0 1; do
  cat "$out/slurm-${job}_$t.out" 2>/dev/null || true
  state=$(scontrol show job -o "${job}_$t" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
  [ "$state" = COMPLETED ] || fail "array task $t ended $state"
done
for m in base.seed1 base.seed2; do
  [ -f "$out/$m/DONE" ] || fail "$m: no DONE marker after its array task"
  [ "$(grep -c '"loss"' "$out/$m/metrics.jsonl")" -eq 4 ] || fail "$m: expected 4 steps"
done
echo "PASS: both array tasks COMPLETED, both members finished"

# Requeue-safe: a task that runs again finds its member finished and does nothing.
job2=$(sbatch --parsable --array=1 "$script") || fail "sbatch failed"
for _ in $(seq 1 600); do
  [ -z "$(squeue -h -j "$job2" 2>/dev/null)" ] && break
  sleep 0.1
done
grep -q "base.seed2: finished before, skipped" "$out/slurm-${job2}_1.out" ||
  fail "the second run of task 1 did not skip its finished member"
echo "PASS: a rerun task skips its finished member"
