#!/usr/bin/env bash
# docs/planner.md §4: predictions (switchyard plan --predict-bench) for every measured emulated
# cluster shape and link speed, compared with the runs in MEASURED_DIR (run_cluster.sh's files).
# usage: cluster_tables.sh BUILD_DIR MEASURED_DIR OUT_DIR   (from the repository root)
# Cluster files: emulated_<rate>m.pbtxt in $CLUSTERS (default: tests/plan/validation). Writes OUT_DIR/table_*.md,
# OUT_DIR/rows.tsv, OUT_DIR/summary.md and OUT_DIR/planner_validation.png.
set -eu
build=$1 meas=$(cd "$2" && pwd) out=$3
here=$(cd "$(dirname "$0")" && pwd)
sy=$(cd "$build" && pwd)/launch/switchyard
py=${PYTHON:-python3}
mkdir -p "$out"
cd "$out"
rm -f rows.tsv plot.dat table_*.md
for rate in 1000 200; do
  cl=${CLUSTERS:-$here}/emulated_${rate}m.pbtxt
  for shape in 2x2 2x4 4x2; do
    h=${shape%x*} g=${shape#*x}
    ls "$meas"/a2a_${rate}m_${shape}_*.json >/dev/null 2>&1 || continue
    "$sy" plan --cluster "$cl" --world $((h * g)) --ranks-per-node "$g" --predict-bench a2a \
      --bytes 1024,4096,16384,65536,262144,1048576 --json >"pred_a2a_${rate}m_${shape}.json"
    $py "$here/compare.py" a2a "${rate}m ${shape}" "pred_a2a_${rate}m_${shape}.json" \
      "$meas"/a2a_${rate}m_${shape}_*.json >>"table_a2a_${rate}m.md"
  done
  for shape in 2x2 2x4 4x2; do
    h=${shape%x*} g=${shape#*x}
    ls "$meas"/moe_*_${rate}m_${shape}_*.json >/dev/null 2>&1 || continue
    merged=()
    for run in 1 2; do
      ls "$meas"/moe_*_${rate}m_${shape}_${run}.json >/dev/null 2>&1 || continue
      "$py" -c 'import json,sys; print(json.dumps(sum((json.load(open(f)) for f in sys.argv[2:]), [])))' x \
        "$meas"/moe_*_${rate}m_${shape}_${run}.json >"moe_${rate}m_${shape}_${run}.json"
      merged+=("moe_${rate}m_${shape}_${run}.json")
    done
    "$sy" plan --cluster "$cl" --world $((h * g)) --ranks-per-node "$g" --predict-bench moe-layer \
      --bench-tokens $((1024 / (h * g))) --bench-hidden 128 --bench-ffn 256 --capacity-factors 0,1.25 \
      --json >"pred_moe_${rate}m_${shape}.json"
    $py "$here/compare.py" moe "${rate}m ${shape}" "pred_moe_${rate}m_${shape}.json" \
      "${merged[@]}" >>"table_moe.md"
  done
done
$py "$here/summarize.py" rows.tsv planner_validation.png >summary.md
cat table_*.md summary.md
