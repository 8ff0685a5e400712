#!/usr/bin/env bash
# `switchyard plan` end to end (docs/planner.md): the table and a recommendation for the default
# experiment on every shipped preset, --json that parses and holds the same recommendation,
# --sweep-world, --from-run on a crafted run directory, and one-line errors with exit 2 for a bad
# preset name, bad cluster files and a bad run directory.
set -u
bin=$1 src=$2 work=$3
mkdir -p "$work"
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
cfg=examples/configs/default.pbtxt

for preset in this_machine dgx_h100 dgx_h200 pcie_a100 azure_ndm_a100_v4 cpu_25gbe cpu_100gbe; do
  out=$("$bin" plan "$cfg" --cluster "$preset") || fail "$preset: exit $?"
  grep -q '^recommendation: EP ' <<<"$out" || fail "$preset: no recommendation: $out"
  grep -q '^=> ' <<<"$out" || fail "$preset: no marked row"
done
echo "$out" | head -5

"$bin" plan "$cfg" --cluster dgx_h100 --json > "$work/plan.json" || fail "--json exit $?"
table_reason=$("$bin" plan "$cfg" --cluster dgx_h100 | sed -n 's/^recommendation: //p')
json_reason=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plans"][0]["reason"])' "$work/plan.json") \
  || fail "--json does not parse"
[ "$table_reason" = "$json_reason" ] || fail "table and JSON disagree: '$table_reason' vs '$json_reason'"

out=$("$bin" plan "$cfg" --cluster dgx_h100 --world 8..32) || fail "--world exit $?"
[ "$(grep -c '^recommendation:' <<<"$out")" = 3 ] || fail "--world 8..32: not 3 plans"
out=$("$bin" plan "$cfg" --cluster dgx_h100 --sweep-world 8,64,512 --scale-experts) || fail "sweep exit $?"
grep -q '^ *512 ' <<<"$out" || fail "sweep has no 512 row: $out"

# --from-run: a run of 2 nodes x 2 ranks whose router sent 0.25 of its rows off the node (uniform:
# 0.5), so 0.5 of uniform routing's share; the later half of its steps only.
run=$work/run_2x2
mkdir -p "$run"
printf 'parallel { expert_parallel_size: 4 world_size: 4 }\ncomm { ranks_per_node: 2 }\n' \
  > "$run/config.pbtxt"
layer='{"load_cv":0.3,"cross_node_fraction":0.25,"inter_node_rows":20,"tokens_per_expert":[8,8,8,8,8,8,8,8]}'
for s in 1 2 3 4; do echo "{\"step\":$s,\"moe\":{\"layers\":[$layer,$layer]}}"; done > "$run/metrics.jsonl"
out=$("$bin" plan "$cfg" --cluster dgx_h100 --world 32 --from-run "$run") || fail "--from-run exit $?"
grep -q "^router figures measured by $run/metrics.jsonl (steps 3-4): load_cv 0.300, inter_node_locality 0.500$" \
  <<<"$out" || fail "--from-run: no figures line: $out"
grep -q 'load CV 0.30' <<<"$out" || fail "--from-run: load CV not used: $out"
out=$("$bin" plan "$cfg" --cluster dgx_h100 --world 32 --from-run "$run" --load-cv 0.2) || fail "exit $?"
grep -q 'load CV 0.20' <<<"$out" || fail "--load-cv does not win over --from-run: $out"

expect_error() {  # expect_error WHAT PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  local err rc
  err=$("$bin" plan "$cfg" "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2 ($err)"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$what: not one line: $err"
  grep -q -- "$pattern" <<<"$err" || fail "$what: '$err' lacks '$pattern'"
  echo "ok $what: $err"
}
expect_error "unknown preset" "unknown preset 'dgx_h900'" --cluster dgx_h900
printf 'nodes: 2\nranks_per_node: 2\nnics: 3\n' > "$work/bad_field.pbtxt"
expect_error "unknown field" "bad_field.pbtxt:3:[0-9]*: field 'nics': unknown field" --cluster "$work/bad_field.pbtxt"
printf 'nodes: 2\nranks_per_node: 2\n' > "$work/missing.pbtxt"
expect_error "missing field" "missing.pbtxt: field 'intra_node': missing" --cluster "$work/missing.pbtxt"
expect_error "no such file" "nope.pbtxt" --cluster "$work/nope.pbtxt"
expect_error "directory" "$work" --cluster "$work"
expect_error "run dir is a file" "not a run directory" --cluster dgx_h100 --from-run "$run/metrics.jsonl"
expect_error "not a run dir" "config.pbtxt" --cluster dgx_h100 --from-run "$work"
echo PASS
