#!/usr/bin/env bash
# `switchyard plan --calibrate` (docs/planner.md §4) on crafted benchmark outputs, so that the fit
# is checked against known figures without running the benchmarks: bench a2a rows generated from
# alpha 10 us, 1 GB/s and a 5 us phase overhead on 4 ranks as 2 x 2 of one host (the model's
# exchanges there: flat 3 a + 12 S / bw + o, hierarchical 2 a + 16 S / bw + 2 o, leader
# 3 a + 24 S / bw + 3 o) must give those figures back; the GEMM figure is 4 ranks' dense chains
# per dense_ms; the memory bandwidth is the element-wise operators' measured rate; the MoE layer
# check printed and kept in the source equals what `plan --predict-bench moe-layer` predicts
# with the written file; a missing file or field is one line, exit 2, and leaves no output file.
set -u
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
python3 - <<'PY'
import json
a, bw, o = 10e-6, 1e9, 5e-6
rows = []
for s in (1024, 65536, 1048576):
    for m, t in (("flat", 3 * a + 12 * s / bw + o), ("hierarchical", 2 * a + 16 * s / bw + 2 * o),
                 ("leader", 3 * a + 24 * s / bw + 3 * o), ("mpi_alltoallv", 1.0)):
        rows.append({"method": m, "bytes_per_peer": s, "latency_us": t * 1e6})
json.dump({"results": rows}, open("a2a.json", "w"))
# 4 ranks; dense chain 100 ms: 4 x 12 x 1024 x 2 x 256 x 1024 FLOP / 0.1 s = 0.25770 TFLOP/s.
json.dump([{"ranks": 4, "dense_ms": 100.0, "moe_ms": 400.0}], open("moe.json", "w"))
PY
calibrate() { "$bin" plan --calibrate --calibrate-from-a2a a2a.json "$@"; }

out=$(calibrate --calibrate-from-moe moe.json --out fitted.pbtxt) || fail "exit $?: $out"
echo "$out"
python3 - <<'PY' || exit 1
import re
t = open("fitted.pbtxt").read()
def num(pattern):
    return [float(x) for x in re.findall(r"(?<![a-z_])" + pattern + r":\s*([0-9.e+-]+)", t)]
def near(what, got, want, tol):
    if abs(got - want) > tol * abs(want):
        raise SystemExit(f"FAIL: {what} {got}, expected {want}")
for v in num("latency_us"): near("latency_us", v, 10.0, 1e-3)
for v in num("bandwidth_gbps"): near("bandwidth_gbps", v, 1.0, 1e-3)
near("phase_overhead_us", num("phase_overhead_us")[0], 5.0, 1e-3)
near("gemm_tflops_fp32", num("gemm_tflops_fp32")[0], 4 * 12 * 1024 * 2 * 256 * 1024 / 0.1 / 1e12, 1e-9)
mem = num("memory_bandwidth_gbps")[0]
if not (0.05 < mem < 1e4): raise SystemExit(f"FAIL: memory_bandwidth_gbps {mem}")
if "element-wise operator rate" not in t: raise SystemExit("FAIL: source: " + t)
print("ok fitted figures")
PY
grep -q "fit median error 0%, max 0%" fitted.pbtxt || fail "fit error not 0: $(grep source fitted.pbtxt)"
# The check line: bench moe-layer 400.00 ms, predicted P ms (E%); P from the written file.
pred=$(sed -n 's/^check: bench moe-layer 400.00 ms, predicted \([0-9.]*\) ms.*/\1/p' <<<"$out")
[ -n "$pred" ] || fail "no check line: $out"
again=$("$bin" plan --cluster fitted.pbtxt --world 4 --ranks-per-node 2 --physical-hosts 1 \
  --predict-bench moe-layer --bench-tokens 1024 --bench-hidden 256 --bench-ffn 1024 \
  --capacity-factors 0 --json | python3 -c 'import json, sys; print("%.2f" % json.load(sys.stdin)[0]["moe_ms"])') ||
  fail "the written file does not load"
[ "$pred" = "$again" ] || fail "check line predicted $pred ms, plan --predict-bench $again ms"
err=$(awk -v p="$pred" 'BEGIN { printf "%+.0f%%", (p - 400) / 400 * 100 }')
grep -q "the layer predicted $err" fitted.pbtxt || fail "source lacks 'the layer predicted $err'"
echo "ok MoE layer check: predicted $pred ms ($err), same as plan --predict-bench"

expect_error() {  # expect_error WHAT PATTERN ARGS...
  local what=$1 pattern=$2 err rc
  shift 2
  err=$("$bin" plan --calibrate "$@" --out none.pbtxt 2>&1 >/dev/null); rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2 ($err)"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$what: not one line: $err"
  grep -q -- "$pattern" <<<"$err" || fail "$what: '$err' lacks '$pattern'"
  [ ! -e none.pbtxt ] || fail "$what: an output file was written"
  echo "ok $what: $err"
}
echo '[{"ranks": 4, "moe_ms": 5}]' >no_dense.json
echo '{"results": [{"method": "flat", "bytes_per_peer": 1024}]}' >no_latency.json
expect_error "missing input" "nope.json: does not exist" \
  --calibrate-from-a2a a2a.json --calibrate-from-moe nope.json
expect_error "no dense_ms" "no_dense.json: field 'dense_ms': missing" \
  --calibrate-from-a2a a2a.json --calibrate-from-moe no_dense.json
expect_error "moe output of a2a" "a2a.json: not a non-empty list of results" \
  --calibrate-from-a2a a2a.json --calibrate-from-moe a2a.json
expect_error "no latency_us" "no_latency.json: field 'latency_us': missing" \
  --calibrate-from-a2a no_latency.json --calibrate-from-moe moe.json
echo PASS
