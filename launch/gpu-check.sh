#!/usr/bin/env bash
# One command for a GPU host (`make gpu-check`; docs/gpu_check.md). Without a visible GPU it stops
# at once: one line on stderr, exit 2. On a GPU host it takes the binaries from
#   1. the build, if build/launch/switchyard exists (--build DIR), else
#   2. the bundle, if gpu-bundle/env.sh exists (--bundle DIR; made by launch/gpu-bundle.sh on
#      Debian and carried here), else
#   3. builds (CMake against the host's torch: -DTorch_DIR=<torch>/share/cmake/Torch),
# then runs, each step with a timeout and all of them within --budget seconds (default 570):
#   info         nvidia-smi, driver and CUDA versions, torch / its CUDA / NCCL, the devices
#   d2d copy     device-to-device copy bandwidth (1 GiB copy_, CUDA events), the reference for
#                the all-to-all figures
#   gpu tests    `ctest -L gpu` (build) or the bundle's run-gpu-tests.sh
#   train dense  the default config, dense (model.moe_every_n_layers=0), parallel.device=CUDA
#   train MoE    the default config (8 experts, top-2), parallel.device=CUDA
#   bench moe-layer, bench a2a   (CPU / host-memory benches: they have no device option)
# and writes ONE summary, OUT/gpu-check-summary.md (tokens/s, MoE layer time, a2a GB/s as a
# ratio of the D2D copy, gpu test counts; rewritten after every step), with every step's output
# in OUT/gpu-check.log. A failing step is recorded and the next one runs; the exit status is 1 if
# any step failed, 0 otherwise.
#
# Usage: launch/gpu-check.sh [--out DIR] [--build DIR | --bundle DIR] [--budget SECONDS]
#                            [--steps N] [--cpu-rehearsal]
#   --out     where the summary and the log go (default: runs/gpu-check)
#   --steps   training steps of each run (default 100)
#   --cpu-rehearsal  run every step on the CPU (parallel.device=CPU, a host copy for "d2d") to
#             check this script on a machine without a GPU; the summary says so
# Environment: SWITCHYARD_PYTHON (default python3): the host's python with torch.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
out="$repo/runs/gpu-check"
mode=auto
build_dir="$repo/build"
bundle_dir="$repo/gpu-bundle"
budget=570
train_steps=100
rehearsal=0
usage_error() {
  echo "gpu-check: $* (--help)" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs DIR}; shift 2 ;;
    --build) mode=build; build_dir=${2:?--build needs DIR}; shift 2 ;;
    --bundle) mode=bundle; bundle_dir=${2:?--bundle needs DIR}; shift 2 ;;
    --budget) budget=${2:?--budget needs SECONDS}; shift 2 ;;
    --steps) train_steps=${2:?--steps needs N}; shift 2 ;;
    --cpu-rehearsal) rehearsal=1; shift ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ $budget =~ ^[0-9]+$ ]] || usage_error "--budget needs whole seconds"
[[ $train_steps =~ ^[1-9][0-9]*$ ]] || usage_error "--steps needs a positive number"
py=${SWITCHYARD_PYTHON:-python3}

# --- Is a GPU visible? nvidia-smi first; without it and without a driver device node, no; with
# a device node but no nvidia-smi listing, ask torch. ----------------------------------------
gpu_lines=""
if [ "$rehearsal" = 0 ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    gpu_lines=$(timeout 30 nvidia-smi -L 2>/dev/null | grep '^GPU ' || true)
  fi
  if [ -z "$gpu_lines" ]; then
    if [ ! -e /dev/nvidiactl ] && [ ! -e /dev/dxg ]; then
      echo "gpu-check: no GPU is visible (nvidia-smi lists none and there is no NVIDIA device node); nothing to check" >&2
      exit 2
    fi
    n=$(timeout 120 "$py" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null |
          tail -n1 || true)
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
      echo "gpu-check: no GPU is visible (nvidia-smi lists none and torch sees no CUDA device); nothing to check" >&2
      exit 2
    fi
  fi
fi

# --- Set-up -----------------------------------------------------------------------------------
deadline=$((SECONDS + budget))
py=$(command -v "$py" || echo "$py")
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
summary="$out/gpu-check-summary.md"
log="$out/gpu-check.log"
: >"$log"
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-gpu-check.XXXXXX")
: >"$work/steps.tsv"
helper="$repo/launch/gpu/gpu_check.py"
# The host's python runs without the bundle's libraries (env.sh keeps the host's value).
if [ "${LD_LIBRARY_PATH+set}" = set ]; then
  host_py_cmd=(env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$py")
else
  host_py_cmd=(env -u LD_LIBRARY_PATH "$py")
fi
host_py() { "${host_py_cmd[@]}" "$@"; }
meta() { printf '%s\t%s\n' "$1" "$2" >>"$work/meta.tsv"; }
: >"$work/meta.tsv"
meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta host "$(hostname)"
meta rehearsal "$rehearsal"
meta running 1
meta log "$log"
report() {
  host_py "$helper" report "$work" "$summary" 2>>"$log" || {
    # Without the helper: the step table alone.
    { echo "# Switchyard GPU check (summary helper failed; see $log)"; echo
      echo "| step | result | seconds | note |"; echo "| --- | --- | ---: | --- |"
      sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$work/steps.tsv"; } >"$summary"
  }
}
failed=0
step_no=0
# record NAME STATUS SECONDS NOTE
record() {
  step_no=$((step_no + 1))
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >>"$work/steps.tsv"
  [ "$2" = FAIL ] && failed=$((failed + 1))
  printf '[%d] %-16s %-4s %4s s  %s\n' "$step_no" "$1" "$2" "$3" "$4"
  report
}
# run LIMIT NAME CMD...: runs CMD (stdin closed) with a timeout of LIMIT seconds, cut to what is
# left of the budget; its output goes to $work/NAME.out and the log. Returns CMD's status, 124
# when it timed out, 125 when no time was left to start it.
run() {
  local limit=$1 name=$2 left rc=0
  shift 2
  left=$((deadline - SECONDS))
  if [ "$left" -lt 15 ]; then return 125; fi
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  printf '\n===== %s (timeout %d s): %s\n' "$name" "$limit" "$*" >>"$log"
  timeout -k 10 "$limit" "$@" </dev/null >"$work/$name.out" 2>&1 || rc=$?
  cat "$work/$name.out" >>"$log"
  printf '===== %s: exit status %d\n' "$name" "$rc" >>"$log"
  return "$rc"
}
# last_line FILE: the last line of a step's output that says something (not a rule of dashes)
last_line() {
  { grep -a -v -E '^[[:space:]]*-*[[:space:]]*$' "$1" 2>/dev/null || true; } | tail -n1 | cut -c1-200
}
# why STATUS: the note for a failed run's status
why() {
  case "$1" in
    124|137) echo "timed out" ;;
    125) echo "no time left in the budget" ;;
    *) echo "exit status $1" ;;
  esac
}
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_mpi_yield_when_idle=1

# --- 1. The binaries ----------------------------------------------------------------------------
t0=$SECONDS
sy=""
mpirun=""
config="$repo/examples/configs/default.pbtxt"
data="$repo/examples/data/tinyshakespeare.txt"
gpu_runner=""
# The binaries of a build directory ($build_dir): META for meta.tsv, DETAIL for the summary row.
use_build() {
  sy="$build_dir/launch/switchyard"
  mpirun=$(command -v mpirun || true)
  gpu_runner=ctest
  meta binaries "$1"
  record binaries PASS $((SECONDS - t0)) "$2"
}
no_binaries() {  # META DETAIL
  meta binaries "$1"
  record binaries FAIL $((SECONDS - t0)) "$2"
}
if [ "$mode" = auto ]; then
  if [ -x "$build_dir/launch/switchyard" ]; then
    mode=build
  elif [ -f "$bundle_dir/env.sh" ]; then
    mode=bundle
  else
    mode=fresh-build
  fi
fi
case "$mode" in
  build)
    build_dir=$(cd "$build_dir" 2>/dev/null && pwd -P || echo "$build_dir")
    if [ -x "$build_dir/launch/switchyard" ]; then
      use_build "build $build_dir (mpirun: $(command -v mpirun || echo none))" \
        "build: $build_dir/launch/switchyard"
    else
      no_binaries "build $build_dir: no launch/switchyard" "no $build_dir/launch/switchyard"
    fi
    ;;
  bundle)
    bundle_dir=$(cd "$bundle_dir" 2>/dev/null && pwd -P || echo "$bundle_dir")
    # shellcheck source=/dev/null  # the bundle's env.sh (launch/gpu/env.sh)
    if [ -f "$bundle_dir/env.sh" ] && . "$bundle_dir/env.sh" 2>>"$log"; then
      sy="$bundle_dir/bin/switchyard"
      mpirun="$bundle_dir/ompi/bin/mpirun"
      config="$bundle_dir/examples/configs/default.pbtxt"
      data="$bundle_dir/examples/data/tinyshakespeare.txt"
      gpu_runner=bundle
      meta binaries "bundle $bundle_dir ($(sed -n '1,3p' "$bundle_dir/BUILD_INFO" 2>/dev/null | paste -s -d ';' | sed 's/;/; /g'))"
      record binaries PASS $((SECONDS - t0)) "bundle: $bundle_dir (torch $SWITCHYARD_TORCH_DIR)"
    else
      no_binaries "bundle $bundle_dir: env.sh failed" "$bundle_dir/env.sh failed: $(tail -n1 "$log")"
    fi
    ;;
  fresh-build)
    # No build and no bundle: build here against the host's torch (needs Open MPI, protobuf,
    # Boost, spdlog, fmt, SentencePiece, GoogleTest development files: Debian's, or the like).
    torch_dir=$(host_py -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>>"$log" || true)
    generator=()
    if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
    rc=0
    # shellcheck disable=SC2016  # expanded by the inner bash
    run 420 build bash -c '
      set -euo pipefail
      cmake -S "$1" -B "$2" "${@:4}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTorch_DIR="$3/share/cmake/Torch"
      targets=$(ctest --test-dir "$2" -L gpu --show-only=json-v1 | python3 -c "
import json, os, sys
print(\" \".join(sorted({os.path.basename(w) for t in json.load(sys.stdin)[\"tests\"]
                        for w in t[\"command\"] if w.startswith(sys.argv[1])})))" "$2/")
      cmake --build "$2" -j "$(nproc)" --target switchyard $targets' \
      _ "$repo" "$build_dir" "$torch_dir" "${generator[@]}" || rc=$?
    if [ "$rc" -eq 0 ] && [ -x "$build_dir/launch/switchyard" ]; then
      use_build "built here: $build_dir against $torch_dir" \
        "built $build_dir against torch at ${torch_dir:-?}"
    else
      no_binaries "no build, no bundle; building failed" \
        "no build, no bundle, and building failed ($(why "$rc"); $(last_line "$work/build.out"))"
    fi
    ;;
esac
if [ -n "$sy" ]; then
  meta binary_nccl "$(ldd "$sy" 2>/dev/null | awk '$1 ~ /^libnccl/ {print $3}' | head -n1)"
fi

# --- 2. Info --------------------------------------------------------------------------------
t0=$SECONDS
gpus=()
if command -v nvidia-smi >/dev/null 2>&1; then
  rc=0
  run 30 nvidia-smi nvidia-smi || rc=$?
  cat "$work/nvidia-smi.out"
  driver=$(timeout 30 nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null |
             head -n1 || true)
  mapfile -t gpus < <(timeout 30 nvidia-smi --query-gpu=index,name,memory.total,pci.bus_id \
                        --format=csv,noheader 2>/dev/null || true)
  meta driver "${driver:-?}"
  meta cuda_driver "$(grep -o 'CUDA Version: [0-9.]*' "$work/nvidia-smi.out" | awk '{print $3}' | head -n1)"
else
  meta driver "no nvidia-smi"
fi
meta gpus "$(printf '%s ; ' "${gpus[@]}" | sed 's/ ; $//')"
ngpu=${#gpus[@]}
rc=0
run 45 info "${host_py_cmd[@]}" "$helper" info "$work/info.json" || rc=$?
if [ "$rc" -eq 0 ]; then
  torch_gpus=$(host_py -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_count"])' \
                 "$work/info.json" 2>/dev/null || echo 0)
  [ "$ngpu" -gt 0 ] || ngpu=$torch_gpus
  record info PASS $((SECONDS - t0)) "$(last_line "$work/info.out")"
else
  record info FAIL $((SECONDS - t0)) "torch info: $(why "$rc"): $(last_line "$work/info.out")"
fi
# One rank per GPU, as many as divide the default config's 8 experts (at most 8).
np=1
for n in 8 4 2; do
  if [ "$ngpu" -ge "$n" ]; then np=$n; break; fi
done
[ "$rehearsal" = 1 ] && np=2
meta np "$np"
device=CUDA
[ "$rehearsal" = 1 ] && device=CPU

# --- 3. Device-to-device copy bandwidth -----------------------------------------------------------
t0=$SECONDS
rc=0
d2d_args=()
[ "$rehearsal" = 1 ] && d2d_args=(--cpu)
run 45 d2d "${host_py_cmd[@]}" "$helper" d2d "$work/d2d.json" "${d2d_args[@]}" || rc=$?
if [ "$rc" -eq 0 ]; then
  record "d2d copy" PASS $((SECONDS - t0)) "$(last_line "$work/d2d.out")"
else
  rm -f "$work/d2d.json"
  record "d2d copy" FAIL $((SECONDS - t0)) "$(why "$rc"): $(last_line "$work/d2d.out")"
fi

# --- 4. gpu tests -----------------------------------------------------------------------------
t0=$SECONDS
if [ -z "$gpu_runner" ]; then
  record "gpu tests" SKIP 0 "no binaries"
else
  rc=0
  if [ "$gpu_runner" = ctest ]; then
    run 200 gpu-tests ctest --test-dir "$build_dir" -L gpu --output-on-failure --timeout 100 || rc=$?
  else
    run 200 gpu-tests "$bundle_dir/run-gpu-tests.sh" --timeout-cap 100 \
      --workdir "$work/gpu-tests" || rc=$?
  fi
  # Count the verdict lines (also of a run cut short): ctest's "Passed / ***Failed / ***Skipped"
  # and run-gpu-tests.sh's "PASS / FAIL / SKIP".
  o="$work/gpu-tests.out"
  count() { grep -c -E "$1" "$o" || true; }
  if [ "$gpu_runner" = ctest ]; then
    p=$(count 'Test +#[0-9]+: .* +Passed +[0-9.]+ sec')
    f=$(count 'Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception|Not Run)')
    s=$(count 'Test +#[0-9]+: .*\*\*\*Skipped')
    lines_re='Test +#[0-9]+: '
    runner_name='ctest -L gpu'
  else
    p=$(count '^PASS ')
    f=$(count '^FAIL ')
    s=$(count '^SKIP ')
    lines_re='^(PASS|FAIL|SKIP) '
    runner_name='the bundle'"'"'s run-gpu-tests.sh'
  fi
  host_py -c '
import json, re, sys
lines = [l.rstrip() for l in open(sys.argv[1], errors="replace") if re.search(sys.argv[2], l)]
p, f, s = (int(x) for x in sys.argv[3:6])
json.dump({"passed": p, "failed": f, "skipped": s, "total": p + f + s, "runner": sys.argv[6],
           "lines": lines}, open(sys.argv[7], "w"))' "$o" "$lines_re" "$p" "$f" "$s" \
    "$runner_name" "$work/gpu-tests.json" 2>>"$log" || true
  note="$p passed, $f failed, $s skipped"
  if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ]; then
    record "gpu tests" PASS $((SECONDS - t0)) "$note"
  else
    record "gpu tests" FAIL $((SECONDS - t0)) "$note ($(why "$rc"))"
  fi
fi

# --- 5, 6. Training on the GPU: dense, then MoE ---------------------------------------------------
mpi=("$mpirun" -np "$np" --oversubscribe --bind-to none)
for kind in dense moe; do
  t0=$SECONDS
  name="train $kind"
  if [ -z "$sy" ] || [ -z "$mpirun" ]; then
    record "$name" SKIP 0 "no switchyard or no mpirun"
    continue
  fi
  extra=()
  [ "$kind" = dense ] && extra=(--set model.moe_every_n_layers=0)
  run_dir="$work/train-$kind"
  rc=0
  run 100 "train-$kind" "${mpi[@]}" "$sy" train "$config" \
    --set parallel.device="$device" --set parallel.world_size="$np" \
    --set parallel.expert_parallel_size="$np" --set comm.ranks_per_node=0 \
    --set train.num_steps="$train_steps" --set train.eval_every=0 --set train.eval_batches=5 \
    --set checkpoint.every_steps=0 --set logging.log_every=10 \
    --set logging.run_dir="$run_dir" --set data.path="$data" "${extra[@]}" || rc=$?
  grep -a -E 'device:|comm backend' "$work/train-$kind.out" | head -n 3 || true
  rate_rc=0
  host_py "$helper" train-rate "$run_dir/metrics.jsonl" "$work/train-$kind.json" \
    >"$work/train-$kind.rate" 2>&1 || rate_rc=$?
  if [ "$rc" -eq 0 ] && [ "$rate_rc" -eq 0 ]; then
    record "$name" PASS $((SECONDS - t0)) "$(last_line "$work/train-$kind.rate")"
  else
    if [ "$rc" -eq 0 ]; then
      note="no tokens/s: $(last_line "$work/train-$kind.rate")"
    else
      note="$(why "$rc"): $({ grep -a -v -E '^\[|^[[:space:]]*-*[[:space:]]*$' "$work/train-$kind.out" || true; } | tail -n1 | cut -c1-200)"
    fi
    record "$name" FAIL $((SECONDS - t0)) "$note"
  fi
done

# --- 7, 8. The benches (CPU / host memory: they have no device option) ----------------------------
t0=$SECONDS
if [ -z "$sy" ] || [ -z "$mpirun" ]; then
  record "bench moe-layer" SKIP 0 "no switchyard or no mpirun"
  record "bench a2a" SKIP 0 "no switchyard or no mpirun"
else
  rc=0
  moe_args=()  # the bench's defaults (docs/benchmarks.md); smaller in the CPU rehearsal
  [ "$rehearsal" = 1 ] && moe_args=(--tokens 1024 --iters 3 --warmup 1)
  run 60 bench-moe-layer "$mpirun" -np 1 --bind-to none "$sy" bench moe-layer "${moe_args[@]}" \
    --json "$work/moe-layer.json" || rc=$?
  if [ "$rc" -eq 0 ]; then
    record "bench moe-layer" PASS $((SECONDS - t0)) "on the CPU (no device option): $(grep -a -E '^(dropless|capacity)' "$work/bench-moe-layer.out" | awk '{printf "%s%s%s %s ms", (NR > 1 ? "; " : ""), $1, ($1 == "capacity" ? " " $2 : ""), ($1 == "capacity" ? $4 : $3)}')"
  else
    record "bench moe-layer" FAIL $((SECONDS - t0)) "$(why "$rc"): $(last_line "$work/bench-moe-layer.out")"
  fi
  t0=$SECONDS
  rc=0
  run 60 bench-a2a "$mpirun" -np 4 --oversubscribe --bind-to none "$sy" bench a2a \
    --ranks-per-node 2 --iters 20 --json "$work/a2a.json" || rc=$?
  if [ "$rc" -eq 0 ]; then
    record "bench a2a" PASS $((SECONDS - t0)) "4 ranks (2 x 2 emulated), host memory over MPI (no device option)"
  else
    record "bench a2a" FAIL $((SECONDS - t0)) "$(why "$rc"): $(last_line "$work/bench-a2a.out")"
  fi
fi

# --- Done ---------------------------------------------------------------------------------------
meta running 0
report
echo "gpu-check: summary $summary (log $log, scratch $work)"
if [ "$failed" -gt 0 ]; then
  echo "gpu-check: $failed step(s) failed" >&2
  exit 1
fi
echo "gpu-check: every step passed"
