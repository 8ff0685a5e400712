#!/usr/bin/env bash
# docs/planner.md §4.3: the whole training step, predicted vs measured on this host. Calibrates
# (`plan --calibrate`, 4 ranks as 2 x 2), trains the default experiment for 100 steps in four
# layouts (1 rank; 2 ranks, EP 2, one node; 4 ranks as 2 x 2, EP 4, flat and hierarchical) as
# `make train` runs it (mpirun, yield when idle), takes the median step time of steps 51-100 and
# the trainer's own phase timers, and prints them next to `switchyard plan`'s prediction for the
# same layout with the run's load CV (--from-run).
# usage: run_train_e2e.sh BUILD_DIR OUT_DIR   (from the repository root, on an idle machine)
set -eu
build=$1 out=$2
sy=$(cd "$build" && pwd)/launch/switchyard
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMP_WAIT_POLICY=PASSIVE
cfg=examples/configs/default.pbtxt
echo "load before: $(cat /proc/loadavg)" | tee "$out/load.txt"
"$sy" plan --calibrate --out "$out/this_machine.pbtxt" | tee "$out/calibrate.txt"
train() {  # train NAME RANKS ARGS...
  local name=$1 np=$2; shift 2
  mpirun -np "$np" --oversubscribe --bind-to none -x OMP_WAIT_POLICY -x OMPI_MCA_mpi_yield_when_idle \
    "$sy" train "$cfg" --set logging.run_dir="$out/$name" --set train.num_steps=100 \
    --set train.eval_every=0 --set logging.log_every=5 "$@" >"$out/$name.log" 2>&1
  echo "$name: $(cat /proc/loadavg)" >>"$out/load.txt"
}
one="--set comm.ranks_per_node=0 --set comm.all_to_all=FLAT"
train w1 1 --set parallel.world_size=1 --set parallel.expert_parallel_size=1 $one
train w2 2 --set parallel.world_size=2 --set parallel.expert_parallel_size=2 $one
train w4_flat 4 --set comm.all_to_all=FLAT
train w4_hier 4
python3 - "$sy" "$cfg" "$out" <<'PY' | tee "$out/table.md"
import json, statistics, subprocess, sys
sy, cfg, out = sys.argv[1:4]
runs = [("w1", 1, 1, "flat"), ("w2", 2, 2, "flat"), ("w4_flat", 4, 2, "flat"),
        ("w4_hier", 4, 2, "hierarchical")]
print("| layout | predicted step ms (compute / exchanges / all-reduce / optimizer) | measured step ms "
      "(forward / backward / grad sync / optimizer) | error |")
print("|---|---|---|---|")
for name, world, g, alg in runs:
    rows = [json.loads(l) for l in open(f"{out}/{name}/metrics.jsonl") if '"step_seconds"' in l]
    rows = [r for r in rows if r["step"] > 50]
    med = lambda f: statistics.median(f(r) for r in rows) * 1e3
    step = med(lambda r: r["step_seconds"])
    sec = {k: med(lambda r, k=k: r["seconds"].get(k, 0.0)) for k in ("forward", "backward", "grad_sync", "optimizer")}
    plan = json.loads(subprocess.run(
        [sy, "plan", cfg, "--cluster", f"{out}/this_machine.pbtxt", "--world", str(world),
         "--ranks-per-node", str(g), "--physical-hosts", "1", "--from-run", f"{out}/{name}",
         "--set", f"parallel.world_size={world}", "--json"],
        capture_output=True, text=True, check=True).stdout)
    c = [c for c in plan["plans"][0]["candidates"]
         if c["ep"] == world and c["capacity_factor"] == 0 and c["algorithm"] == alg][0]
    exch = c["a2a_intra_ms"] + c["a2a_inter_ms"] + c["a2a_exchange_ms"]
    print(f"| {world} rank(s), {g} per node, EP {world}, {alg} | {c['step_ms']:.1f} ({c['compute_ms']:.1f} / "
          f"{exch:.1f} / {c['allreduce_ms']:.1f} / {c['optimizer_ms']:.1f}) | {step:.1f} ({sec['forward']:.1f} / "
          f"{sec['backward']:.1f} / {sec['grad_sync']:.1f} / {sec['optimizer']:.1f}) | "
          f"{(c['step_ms'] - step) / step * 100:+.0f}% |")
PY
