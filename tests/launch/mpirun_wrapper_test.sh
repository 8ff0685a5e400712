#!/usr/bin/env bash
# launch/mpirun.sh: the mpirun command it builds for host lists, hostfiles and oversubscription
# (--dry-run), its argument errors, and a real 4-rank training run through it on this machine
# that must train and finish.
#   mpirun_wrapper_test.sh BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
fail() { echo "FAIL: $*"; exit 1; }
wrap=launch/mpirun.sh
cores=$(nproc)
unset SLURM_JOB_ID

expect_in() {  # COMMAND_LINE WORD...
  local line=$1 w
  shift
  for w in "$@"; do [[ " $line " == *" $w "* ]] || fail "'$w' not in: $line"; done
}

# Two hosts, one rank per core: hosts with slots, ppr mapping, one core per rank, bound.
line=$($wrap --dry-run --hosts n1,n2 -N "$cores" --bin /x/switchyard -- train c.pbtxt)
expect_in "$line" "-np $((2 * cores))" "--host n1:$cores\\,n2:$cores" \
  "--map-by ppr:$cores:node:PE=1" "--bind-to core" "-x OMP_NUM_THREADS" "-x OMP_WAIT_POLICY" \
  "/x/switchyard train c.pbtxt"
[[ $line != *oversubscribe* ]] || fail "oversubscribed without need: $line"
# Fewer ranks than cores: each rank gets cores/ranks cores.
if [ "$cores" -ge 2 ]; then
  line=$($wrap --dry-run --hosts n1 -N 1 -- train c.pbtxt)
  expect_in "$line" "-np 1" "--map-by ppr:1:node:PE=$cores" "--bind-to core"
fi
# A hostfile: 3 hosts (comments and blank lines ignored) x 2 ranks.
printf '# cluster\nn1 slots=2\n\nn2 slots=2\nn3 slots=2\n' >"$work/hosts"
line=$($wrap --dry-run --hostfile "$work/hosts" -N 2 -- train c.pbtxt)
expect_in "$line" "-np 6" "--hostfile $work/hosts"
if [ "$cores" -ge 2 ]; then
  expect_in "$line" "--map-by ppr:2:node:PE=$((cores / 2))" "--bind-to core"
else
  expect_in "$line" "--map-by ppr:2:node" "--bind-to none" "--oversubscribe"
fi
# More ranks than cores on this machine: no binding, oversubscribe, idle ranks yield.
line=$($wrap --dry-run -n $((2 * cores + 1)) -- train c.pbtxt)
expect_in "$line" "-np $((2 * cores + 1))" "--bind-to none" "--oversubscribe" \
  "-x OMPI_MCA_mpi_yield_when_idle=1"
# Bad arguments: exit 2 with a message.
for bad in "--bind socket -- train" "--hosts a --hostfile $work/hosts -- train" "-n 0 -- train" \
           "--frobnicate -- train" ""; do
  set +e
  msg=$($wrap --dry-run $bad 2>&1)
  rc=$?
  set -e
  [ $rc -eq 2 ] && [[ $msg == *"launch/mpirun.sh: error:"* ]] || fail "'$bad': rc $rc, '$msg'"
done
echo "PASS: mpirun command lines for host lists, hostfiles, binding and oversubscription"

# A real run: 4 ranks on this machine (2 emulated nodes x 2), a few steps.
run=$work/run
"$wrap" -n 4 --bin "$bin" -- train examples/configs/default.pbtxt \
  --set model.hidden_size=32 --set model.num_layers=2 --set model.num_heads=2 \
  --set model.seq_length=32 --set model.ffn_hidden_size=64 --set model.moe.num_experts=4 \
  --set model.moe.expert.ffn_hidden_size=32 --set train.global_batch_size=8 \
  --set train.eval_batches=2 --set train.eval_every=0 --set generate.max_new_tokens=8 \
  --set train.num_steps=6 --set logging.run_dir="$run" >"$work/run.log" 2>&1 ||
  { cat "$work/run.log"; fail "training through launch/mpirun.sh failed"; }
cat "$work/run.log"
grep -q "launcher openmpi: 4 rank(s), 1 node(s)" "$work/run.log" || fail "ranks did not see mpirun's layout"
[ "$(grep -c '"loss"' "$run/metrics.jsonl")" -eq 6 ] || fail "expected 6 steps in metrics.jsonl"
echo "PASS: 4-rank training through launch/mpirun.sh"
