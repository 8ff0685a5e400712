#!/usr/bin/env bash
# docs/planner.md §4: calibrate on this host, then predict and measure `bench a2a` (4 ranks as
# 2x2, 8 ranks as 2x4, 1 KiB - 4 MiB per peer) and `bench moe-layer` (4 ranks as 2x2, flat /
# hierarchical / hierarchical+dedup, dropless and capacity 1.25), each measurement twice.
# usage: run_one_host.sh BUILD_DIR OUT_DIR   (from the repository root; run under nice -n 19)
set -eu
build=$1 out=$2
sy=$build/launch/switchyard
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpi="mpirun --oversubscribe --bind-to none"
echo "load before: $(cat /proc/loadavg)"
"$sy" plan --calibrate --out "$out/this_machine.pbtxt" --calibrate-ranks 4 --calibrate-iters 5 | tee "$out/calibrate.txt"
cluster=$out/this_machine.pbtxt
for run in 1 2; do
  $mpi -np 4 "$sy" bench a2a --ranks-per-node 2 --iters 5 --json "$out/a2a_2x2_$run.json" > "$out/a2a_2x2_$run.txt"
  $mpi -np 8 "$sy" bench a2a --ranks-per-node 4 --iters 5 --json "$out/a2a_2x4_$run.json" > "$out/a2a_2x4_$run.txt"
  for mode in "" "--hierarchical" "--hierarchical --dedup"; do
    tag=$(echo "flat$mode" | tr -d ' -')
    $mpi -np 4 "$sy" bench moe-layer --ranks-per-node 2 --tokens 2048 --iters 3 --warmup 1 \
      --capacity-factors 0,1.25 $mode --json "$out/moe_2x2_${tag}_$run.json" > "$out/moe_2x2_${tag}_$run.txt"
  done
  echo "load after run $run: $(cat /proc/loadavg)"
done
"$sy" plan --cluster "$cluster" --world 4 --ranks-per-node 2 --physical-hosts 1 --predict-bench a2a --json > "$out/pred_a2a_2x2.json"
"$sy" plan --cluster "$cluster" --world 8 --ranks-per-node 4 --physical-hosts 1 --predict-bench a2a --json > "$out/pred_a2a_2x4.json"
"$sy" plan --cluster "$cluster" --world 4 --ranks-per-node 2 --physical-hosts 1 --predict-bench moe-layer \
  --bench-tokens 2048 --capacity-factors 0,1.25 --json > "$out/pred_moe_2x2.json"
python3 - "$out" <<'PY'
import json, sys, glob
out = sys.argv[1]
for run in (1, 2):
    merged = []
    for f in sorted(glob.glob(f"{out}/moe_2x2_*_{run}.json")):
        merged += json.load(open(f))
    json.dump(merged, open(f"{out}/moe_2x2_{run}.json", "w"))
PY
here=$(cd "$(dirname "$0")" && pwd)
cd "$out" && rm -f plot.dat
python3 "$here/compare.py" a2a 2x2 pred_a2a_2x2.json a2a_2x2_1.json a2a_2x2_2.json > table_a2a.md
python3 "$here/compare.py" a2a 2x4 pred_a2a_2x4.json a2a_2x4_1.json a2a_2x4_2.json >> table_a2a.md
python3 "$here/compare.py" moe 2x2 pred_moe_2x2.json moe_2x2_1.json moe_2x2_2.json > table_moe.md
cat table_a2a.md table_moe.md
