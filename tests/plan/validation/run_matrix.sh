#!/usr/bin/env bash
# docs/planner.md §4: the whole validation matrix in one command (root, from the repository root,
# on an otherwise idle machine): the one-host calibration runs, bench a2a on the emulated cluster
# (2 x 2, 2 x 4, 4 x 2 at 1000 and 200 Mbit/s, two runs each), bench moe-layer (default MoE
# model, flat, hierarchical and node-deduplicated, dropless and capacity 1.25: 2 x 2 at both
# speeds, 4 x 2 at 1000 Mbit/s),
# then the fit (fit_emulated.py, into OUT_DIR/fit) and the tables (cluster_tables.sh, into
# OUT_DIR/tables, predicted with the fitted files).
# usage: [RUNS="1 2"] run_matrix.sh BUILD_DIR OUT_DIR
set -eu
build=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
sy=$build/launch/switchyard
mkdir -p "$out"
out=$(cd "$out" && pwd)
export SY=$sy OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
one_host() {  # NAME NP bench args...: the plain host, every rank in one node (shared memory)
  local name=$1 np=$2
  shift 2
  local before
  before=$(cat /proc/loadavg)
  mpirun -np "$np" --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 \
    -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 "$sy" bench "$@" --ranks-per-node "$np" \
    --json "$out/$name.json" >"$out/$name.txt" 2>&1
  echo "$name $(date -u +%FT%TZ) load before: $before | after: $(cat /proc/loadavg)" >>"$out/load.txt"
}
moe_args=(--hidden 128 --ffn 256 --experts 8 --top-k 2 --iters 10 --warmup 3)
one_host intra_np2_1 2 a2a --iters 20 --max-bytes 1048576
one_host intra_np4_1 4 a2a --iters 20 --max-bytes 1048576
one_host moe_np2_1 2 moe-layer --tokens 512 "${moe_args[@]}" --capacity-factors 0
for run in ${RUNS:-1 2}; do
  for rate in 1000 200; do
    for shape in 2x2 2x4 4x2; do
      "$here/run_cluster.sh" "$out" "$rate" "${shape%x*}" "${shape#*x}" a2a "$run" \
        --iters 20 --max-bytes 1048576
    done
  done
  for spec in 1000:2x2 200:2x2 1000:4x2; do
    rate=${spec%:*} shape=${spec#*:}
    h=${shape%x*} g=${shape#*x}
    for alg in flat hier dedup; do
      extra=()
      [ "$alg" = hier ] && extra=(--hierarchical)
      [ "$alg" = dedup ] && extra=(--hierarchical --dedup)
      TAG=$alg "$here/run_cluster.sh" "$out" "$rate" "$h" "$g" moe "$run" \
        --tokens $((1024 / (h * g))) "${moe_args[@]}" --capacity-factors 0,1.25 "${extra[@]}"
    done
  done
done
mkdir -p "$out/fit" "$out/tables"
python3 "$here/fit_emulated.py" "$sy" "$out" "$out/fit"
CLUSTERS=$out/fit "$here/cluster_tables.sh" "$build" "$out" "$out/tables"
