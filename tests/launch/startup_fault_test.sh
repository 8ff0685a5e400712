#!/usr/bin/env bash
# Start-up under the watchdog (launch/startup_watchdog.h): a 2-rank `switchyard train` job whose
# rank 1 fails before start-up finishes must end within comm.timeout_ms + 10 s, with one line
# naming the rank and the start-up operation it was stuck in.
#   stop BIN WORKDIR   rank 1 is stopped (SIGSTOP) as soon as it exists: it never arrives
#   kill BIN WORKDIR   rank 1 is killed (SIGKILL) as soon as it exists: it dies during start-up
#   stop_late BIN WORKDIR  rank 1 is stopped once it has passed MPI_Init and the host placement
#                      (its "device:" log line): rank 0 is stuck in a later start-up collective
#                      (communicator duplication, topology detection or the group splits)
set -euo pipefail
mode=$1 bin=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
fail() { echo "FAIL: $*"; exit 1; }
timeout_s=5

mpirun -np 2 --oversubscribe --bind-to none "$bin" train examples/configs/default.pbtxt \
  --set comm.timeout_ms=$((timeout_s * 1000)) --set comm.ranks_per_node=0 \
  --set parallel.world_size=2 --set parallel.expert_parallel_size=2 --set train.num_steps=3 \
  --set logging.run_dir="$work/run" >"$work/out.log" 2>"$work/err.log" &
launcher=$!

# Rank 1: the child of mpirun whose environment says OMPI_COMM_WORLD_RANK=1.
victim=
for _ in $(seq 1 500); do
  for pid in $(pgrep -P "$launcher" 2>/dev/null || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
      victim=$pid
    fi
  done
  [ -n "$victim" ] && break
  sleep 0.01
done
[ -n "$victim" ] || { kill -9 "$launcher" 2>/dev/null; fail "rank 1 never appeared"; }
cleanup() { kill -9 "$victim" "$launcher" 2>/dev/null || true; }
trap cleanup EXIT
if [ "$mode" = stop_late ]; then
  for _ in $(seq 1 3000); do
    grep -q '\[rank 1\] device:' "$work/out.log" 2>/dev/null && break
    sleep 0.01
  done
  grep -q '\[rank 1\] device:' "$work/out.log" || fail "rank 1 never logged its device"
fi
case $mode in
  stop | stop_late) kill -STOP "$victim" ;;
  *) kill -9 "$victim" ;;
esac
start=$(date +%s%N)

# The job must end by itself within timeout + 10 s.
limit=$((timeout_s + 10))
ended=
for _ in $(seq 1 $((limit * 10))); do
  if ! kill -0 "$launcher" 2>/dev/null; then ended=1; break; fi
  sleep 0.1
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed="$((ms / 1000)).$(printf %03d $((ms % 1000)))"
if [ -z "$ended" ]; then
  cat "$work/err.log"
  fail "$mode: the job still runs ${limit} s after rank 1 was lost"
fi
rc=0
wait "$launcher" || rc=$?
echo "--- stderr of the job (rc=$rc, ended ${elapsed} s after rank 1 was lost) ---"
cat "$work/err.log"
[ "$rc" -ne 0 ] || fail "$mode: the job exited 0"
[ ! -e "$work/run/checkpoints" ] || fail "$mode: a checkpoint was written"
if [ "$mode" = stop_late ]; then
  line=$(grep 'switchyard: rank 0: fatal: start-up did not finish' "$work/err.log" || true)
  [ -n "$line" ] || fail "no start-up timeout line from rank 0"
  [ "$(echo "$line" | wc -l)" -eq 1 ] || fail "more than one line: $line"
  echo "$line" | grep -q 'stuck in ' || fail "the line does not name the operation: $line"
  if echo "$line" | grep -q 'stuck in MPI_Init'; then fail "stopped too early: $line"; fi
  echo "PASS: a rank stopped after MPI_Init ends the job in ${elapsed} s: $line"
elif [ "$mode" = stop ]; then
  # Rank 0 reports, in one line, that it is stuck in a start-up operation.
  line=$(grep 'switchyard: rank 0: fatal: start-up did not finish' "$work/err.log" || true)
  [ -n "$line" ] || fail "no start-up timeout line from rank 0"
  [ "$(echo "$line" | wc -l)" -eq 1 ] || fail "more than one line: $line"
  echo "$line" | grep -q 'stuck in ' || fail "the line does not name the operation: $line"
  echo "PASS: a rank that never arrives ends the job in ${elapsed} s: $line"
else
  grep -qiE 'rank 1|signal 9|killed' "$work/err.log" || fail "the lost rank is not named"
  echo "PASS: a rank killed during start-up ends the job in ${elapsed} s"
fi
