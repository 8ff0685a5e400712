#!/usr/bin/env bash
# A real one-node Slurm running the batch scripts that ship in launch/slurm/ (ctest label slurm).
#   slurm_test.sh BIN WORKDIR
# 1. Installs slurm-wlm and munge when missing, starts munged, slurmctld and slurmd on loopback
#    with everything under WORKDIR (tests/launch/local_slurm.sh).
# 2. Normal job: launch/slurm/single_node.sbatch (srun --mpi=pmix), 4 tasks of a short training
#    run; the job must end COMPLETED and the training loss must go down. Then
#    launch/slurm/multi_node_srun.sbatch on 1 node x 4 tasks, 5 steps, must COMPLETE too.
# 3. Preemption: launch/slurm/multi_node_mpirun.sbatch (mpirun inside the allocation) on one node,
#    4 tasks; after a few steps `scancel --signal=USR1 --batch` (what --signal=B:USR1@T sends
#    before the time limit). The ranks must checkpoint at some step S, the batch script must
#    requeue the job, and the requeued run must resume from S, continue at S + 1 and COMPLETE.
# The daemons this test started are stopped by pid on every exit path. If Slurm cannot be
# installed or started the test fails with the reason.
set -euo pipefail
bin=$(realpath "$1")
work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
source "$src/tests/launch/local_slurm.sh"
fail() { echo "FAIL: $*"; exit 1; }

cleanup() {
  local rc=$?
  if [ -n "${SLURM_CONF:-}" ]; then
    # Jobs first (their slurmstepd processes outlive slurmd), then the daemons.
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

slurm_ensure_packages || fail "slurm-wlm/munge are not installed and could not be installed"
t0=$SECONDS
slurm_start "$work/cluster" || fail "Slurm did not start (see above)"
echo "Slurm up in $((SECONDS - t0)) s"

job_field() {  # JOB FIELD: one field of `scontrol show job`
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
wait_state() {  # JOB STATE TIMEOUT_S
  local state=""
  for _ in $(seq 1 $((10 * $3))); do
    state=$(job_field "$1" JobState)
    [ "$state" = "$2" ] && return 0
    case $state in FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL)
      return 1 ;;
    esac
    sleep 0.1
  done
  echo "job $1 still $state after $3 s"
  return 1
}
losses() { grep -o '"loss":[-0-9.e+]*' "$1" | cut -d: -f2; }
show_job() {
  echo "--- scontrol show job $1"; scontrol show job "$1" || true
  echo "--- output"; cat "$2" 2>/dev/null || true
  echo "--- slurmctld log (tail)"; tail -20 "$work/cluster/log/slurmctld.log" || true
}

cd "$src"
# A small model, 4 ranks emulating 2 nodes x 2 ranks (hierarchical all-to-all), as in
# tests/train/process_signals_test.sh.
common=(--set model.hidden_size=32 --set model.num_layers=2 --set model.num_heads=2
        --set model.seq_length=32 --set model.ffn_hidden_size=64 --set model.moe.num_experts=4
        --set model.moe.expert.ffn_hidden_size=32 --set train.global_batch_size=8
        --set train.optimizer.learning_rate=0.003 --set train.optimizer.warmup_steps=5
        --set train.eval_batches=2 --set train.eval_every=0 --set generate.max_new_tokens=8
        --set logging.log_every=10 --set comm.timeout_ms=60000 --set checkpoint.every_steps=0)
export SWITCHYARD_BIN=$bin

# --- 2. the normal job --------------------------------------------------------------------
run1=$work/job1
out1=$work/job1.out
t0=$SECONDS
job1=$(sbatch --parsable --ntasks=4 --time=10 --output="$out1" \
         launch/slurm/single_node.sbatch examples/configs/default.pbtxt "${common[@]}" \
         --set train.num_steps=60 --set logging.run_dir="$run1") || fail "sbatch failed"
echo "submitted job $job1 (single_node.sbatch, srun --mpi=pmix)"
wait_state "$job1" COMPLETED 240 || { show_job "$job1" "$out1"; fail "job $job1 did not complete"; }
cat "$out1"
grep -q "launcher slurm: 4 rank(s), 1 node(s), slurm job $job1 restart 0" "$out1" ||
  fail "the ranks did not see the Slurm task layout (no 'launcher slurm: 4 rank(s)' line)"
mapfile -t l < <(losses "$run1/metrics.jsonl")
[ "${#l[@]}" -eq 60 ] || fail "expected 60 training steps in metrics.jsonl, got ${#l[@]}"
first=$(printf '%s\n' "${l[@]:0:5}" | awk '{s += $1} END {print s / NR}')
last=$(printf '%s\n' "${l[@]: -5}" | awk '{s += $1} END {print s / NR}')
awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < a - 0.5)}' ||
  fail "loss did not go down: first 5 steps $first, last 5 steps $last"
echo "PASS: job $job1 COMPLETED in $((SECONDS - t0)) s; loss $first (steps 1-5) -> $last (steps 56-60)"

# The multi-node srun script, squeezed onto this one node: it must run as shipped.
run3=$work/job3
out3=$work/job3.out
job3=$(sbatch --parsable --nodes=1 --ntasks-per-node=4 --time=10 --output="$out3" \
         launch/slurm/multi_node_srun.sbatch examples/configs/default.pbtxt "${common[@]}" \
         --set train.num_steps=5 --set logging.run_dir="$run3") || fail "sbatch failed"
wait_state "$job3" COMPLETED 240 || { show_job "$job3" "$out3"; fail "job $job3 did not complete"; }
[ "$(grep -c '"loss"' "$run3/metrics.jsonl")" -eq 5 ] || fail "job $job3: expected 5 steps"
echo "PASS: job $job3 (multi_node_srun.sbatch on 1 node x 4 tasks) COMPLETED"

# --- 3. preemption, requeue and resume --------------------------------------------------------
run2=$work/job2
out2=$work/job2.out
steps=200
t0=$SECONDS
job2=$(sbatch --parsable --nodes=1 --ntasks-per-node=4 --time=10 \
         --output="$out2" launch/slurm/multi_node_mpirun.sbatch examples/configs/default.pbtxt \
         "${common[@]}" --set train.num_steps=$steps --set logging.run_dir="$run2") ||
  fail "sbatch failed"
echo "submitted job $job2 (multi_node_mpirun.sbatch, mpirun inside the allocation)"
for _ in $(seq 1 1200); do
  [ -f "$run2/metrics.jsonl" ] && [ "$(wc -l <"$run2/metrics.jsonl")" -ge 5 ] && break
  case $(job_field "$job2" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL)
      show_job "$job2" "$out2"; fail "job $job2 ended before it was signalled" ;;
  esac
  sleep 0.1
done
[ -f "$run2/metrics.jsonl" ] || { show_job "$job2" "$out2"; fail "job $job2 wrote no metrics in 120 s"; }
scancel --signal=USR1 --batch "$job2" || fail "scancel --signal=USR1 --batch $job2 failed"
echo "sent SIGUSR1 to the batch shell of job $job2"
wait_state "$job2" COMPLETED 300 || { show_job "$job2" "$out2"; fail "job $job2 did not complete after requeue"; }
cat "$out2"
restarts=$(job_field "$job2" Restarts)
[ "$restarts" = 1 ] || fail "expected Restarts=1 for job $job2, got '$restarts'"
step=$(sed -n 's/.*stop requested: saving a checkpoint at step \([0-9]*\).*/\1/p' "$out2" | head -1)
[ -n "$step" ] || fail "no checkpoint on SIGUSR1 in the job output"
[ "$step" -ge 5 ] && [ "$step" -lt "$steps" ] || fail "checkpoint at step $step, expected 5..$((steps - 1))"
grep -q "checkpoint written, requeueing job $job2" "$out2" || fail "the batch script did not requeue"
grep -q "slurm job $job2 restart 1" "$out2" ||
  grep -q "switchyard job $job2 run 2" "$out2" || fail "no second run of job $job2"
grep -q "resumed from checkpoint at step $step" "$out2" || fail "the requeued run did not resume from step $step"
# metrics.jsonl: steps 1..S of the first run, then S+1.. of the resumed run.
grep -o '"step":[0-9]*' "$run2/metrics.jsonl" | cut -d: -f2 >"$work/steps.txt"
sed -n "$((step + 1))p" "$work/steps.txt" | grep -qx "$((step + 1))" ||
  fail "the resumed run did not continue at step $((step + 1))"
[ "$(sort -n "$work/steps.txt" | uniq -d | head -1)" = "$steps" ] ||
  [ -z "$(sort -n "$work/steps.txt" | uniq -d)" ] || fail "steps were repeated after the resume"
[ "$(grep -c '"step"' "$run2/metrics.jsonl")" -ge "$steps" ] || fail "the resumed run did not reach step $steps"
echo "PASS: job $job2 checkpointed at step $step on SIGUSR1, was requeued, resumed at step" \
     "$((step + 1)) and COMPLETED ($((SECONDS - t0)) s)"
