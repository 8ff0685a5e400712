#!/usr/bin/env bash
# A tiny 2-member sweep end to end (ctest launch.sweep_end_to_end, label mpi):
#   sweep_end_to_end_test.sh BIN WORKDIR
# 1. `sweep list` and `sweep run` of 2 seeds of a tiny model (6 steps, 2 ranks under mpirun):
#    both members finish, each with its resolved config, member.json, metrics and DONE marker.
# 2. Resume: member 1's DONE marker removed (a member killed before it finished); the next
#    `sweep run` skips member 0 and runs member 1 again, which resumes from its checkpoint.
# 3. `switchyard report` on the sweep directory: one group of 2 seeds, tables and 4 PNG plots.
# 4. A sweep with an override the schema does not have: exit 2, one line naming the sweep file,
#    the member and the override, and nothing run.
set -euo pipefail
bin=$(realpath "$1")
work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
cd "$src"

cat >"$work/tiny.pbtxt" <<EOT
name: "tiny"
base: "$src/examples/configs/default.pbtxt"
set: "parallel.world_size=2"
set: "parallel.expert_parallel_size=2"
set: "comm.ranks_per_node=1"
set: "model.hidden_size=32"
set: "model.num_layers=2"
set: "model.num_heads=2"
set: "model.seq_length=32"
set: "model.ffn_hidden_size=64"
set: "model.moe_every_n_layers=1"
set: "model.moe.num_experts=4"
set: "model.moe.expert.ffn_hidden_size=32"
set: "train.global_batch_size=8"
set: "train.num_steps=6"
set: "train.eval_every=3"
set: "train.eval_batches=1"
set: "train.optimizer.warmup_steps=2"
set: "checkpoint.every_steps=3"
set: "logging.routing_probe_every=2"
set: "generate.max_new_tokens=4"
axis { field: "model.moe.router.top_k" values: "2" }
seeds: [1, 2]
EOT
out=$work/sweep
t0=$SECONDS
"$bin" sweep list "$work/tiny.pbtxt" --out "$out" | tee "$work/list.txt"
grep -q "0  pending   np 2  top_k-2.seed1  --set model.moe.router.top_k=2 --set train.seed=1" \
  "$work/list.txt" || fail "sweep list: member 0 not as expected"

"$bin" sweep run "$work/tiny.pbtxt" --out "$out" | tee "$work/run1.txt" ||
  fail "sweep run exited $?"
for m in top_k-2.seed1 top_k-2.seed2; do
  for f in DONE config.pbtxt member.json metrics.jsonl train.log; do
    [ -f "$out/$m/$f" ] || fail "$m: no $f"
  done
  [ "$(grep -c '"loss"' "$out/$m/metrics.jsonl")" -eq 6 ] || fail "$m: expected 6 step records"
done
grep -q "seed: 2" "$out/top_k-2.seed2/config.pbtxt" || fail "member 1's config has not seed 2"
grep -q '"status": "finished"' "$out/sweep.json" || fail "sweep.json has no finished member"
grep -q "sweep tiny: 2 finished (0 before this run), 0 failed" "$work/run1.txt" ||
  fail "no summary line"
echo "PASS: 2 members ran in $((SECONDS - t0)) s"

# --- 2. resume after a member that did not finish ----------------------------------------------
rm "$out/top_k-2.seed2/DONE"
"$bin" sweep run "$work/tiny.pbtxt" --out "$out" | tee "$work/run2.txt" ||
  fail "the second sweep run exited $?"
grep -q "\[1/2\] top_k-2.seed1: finished before, skipped" "$work/run2.txt" ||
  fail "the finished member was not skipped"
grep -q "\[2/2\] top_k-2.seed2: running on 2 rank(s)" "$work/run2.txt" ||
  fail "the unfinished member did not run again"
grep -q "resumed from checkpoint at step 6" "$out/top_k-2.seed2/train.log" ||
  fail "the rerun member did not resume from its checkpoint"
[ -f "$out/top_k-2.seed2/DONE" ] || fail "no DONE after the rerun"
echo "PASS: resume skipped the finished member and reran the other"

# --- 3. the report ---------------------------------------------------------------------------
"$bin" report "$out" --out "$work/report" | tee "$work/report.txt" || fail "report exited $?"
grep -q "^2 run(s) in 1 group(s)$" "$work/report.txt" || fail "expected 2 runs in 1 group"
grep -qE '^\| top_k-2 \| 1,2 \| [0-9.]+ ± [0-9.e-]+ \|' "$work/report/report.md" ||
  fail "report.md has no 'top_k-2' row with mean ± std"
grep -q "^top_k-2,final_val_loss," "$work/report/report.csv" || fail "report.csv has no final val loss"
for png in val_loss fluctuation expert_load a2a_bytes; do
  [ "$(head -c 4 "$work/report/$png.png" | tail -c 3)" = PNG ] || fail "$png.png is not a PNG"
done
echo "PASS: report with tables and 4 plots"

# --- 4. a bad override is refused before anything runs -----------------------------------------
sed 's/model.moe.router.top_k"/model.moe.router.topk"/' "$work/tiny.pbtxt" >"$work/bad.pbtxt"
set +e
"$bin" sweep run "$work/bad.pbtxt" --out "$work/bad" 2>"$work/bad.err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bad sweep: expected exit 2, got $rc"
[ "$(wc -l <"$work/bad.err")" -eq 1 ] || fail "bad sweep: expected one line, got: $(cat "$work/bad.err")"
grep -q "bad.pbtxt: member 'topk-2.seed1': override 'model.moe.router.topk=2'" "$work/bad.err" ||
  fail "bad sweep: unexpected message: $(cat "$work/bad.err")"
[ ! -e "$work/bad" ] || fail "bad sweep: something was written"
echo "PASS: bad override refused: $(cat "$work/bad.err")"
