#!/usr/bin/env bash
# examples/custom_router: the user program with its own "cosine" router trains. One process:
# every MoE layer was built by the custom factory, route() ran, the loss went down. Two ranks
# with expert parallelism 2: the same router works across ranks.
#   custom_router_test.sh BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
fail() { echo "FAIL: $*"; exit 1; }
config=examples/custom_router/cosine.pbtxt

"$bin" "$config" --set train.num_steps=40 --set logging.run_dir="$work/one" --set logging.log_every=10 \
  >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "custom_router failed"; }
cat "$work/one.log"
grep -q "custom router 'cosine': 2 MoE layer(s)" "$work/one.log" || fail "the MoE layers were not built by the custom factory"
calls=$(sed -n "s/.* \([0-9]*\) route() calls.*/\1/p" "$work/one.log")
[ "${calls:-0}" -ge 40 ] || fail "route() ran ${calls:-0} times, expected >= 40 (2 layers x 40 steps)"
read -r first last < <(sed -n 's/^train loss \([-0-9.e+]*\) (first step) -> \([-0-9.e+]*\) (last step).*/\1 \2/p' "$work/one.log")
[ -n "${first:-}" ] || fail "no loss line"
awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < a - 0.5)}' || fail "loss did not go down: $first -> $last"
echo "PASS: one process, loss $first -> $last with the cosine router"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
mpirun -np 2 --oversubscribe --bind-to none "$bin" "$config" --set parallel.expert_parallel_size=2 \
  --set parallel.threads_per_rank=1 --set train.num_steps=5 --set logging.run_dir="$work/two" \
  >"$work/two.log" 2>&1 || { cat "$work/two.log"; fail "custom_router on 2 ranks failed"; }
cat "$work/two.log"
grep -q "custom router 'cosine': 2 MoE layer(s)" "$work/two.log" || fail "2 ranks: custom router not used"
[ "$(grep -c '"loss"' "$work/two/metrics.jsonl")" -eq 5 ] || fail "2 ranks: expected 5 steps"
echo "PASS: 2 ranks with expert parallelism 2 and the cosine router"
