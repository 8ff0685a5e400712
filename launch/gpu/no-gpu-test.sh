#!/usr/bin/env bash
# ctest launch.gpu_check_no_gpu (tests/launch/CMakeLists.txt): on a machine without a GPU,
# launch/gpu-check.sh stops at once: exit status 2, exactly one line on stderr that says
# "no GPU", nothing on stdout, no summary or log written. Skipped (exit 77) where nvidia-smi
# lists a GPU.
# Usage: no-gpu-test.sh GPU_CHECK_SCRIPT SCRATCH_DIR
set -euo pipefail

check=$1
scratch=$2
if command -v nvidia-smi >/dev/null 2>&1; then
  listed=$(timeout 30 nvidia-smi -L 2>/dev/null || true)
  if grep -q '^GPU ' <<<"$listed"; then
    echo "a GPU is visible here: this test is for machines without one (skipped)"
    exit 77
  fi
fi
rm -rf "$scratch"
mkdir -p "$scratch"
fail() {
  echo "FAIL: $*"
  echo "--- stdout"; cat "$scratch/stdout"
  echo "--- stderr"; cat "$scratch/stderr"
  exit 1
}
start=$SECONDS
rc=0
"$check" --out "$scratch/out" >"$scratch/stdout" 2>"$scratch/stderr" || rc=$?
took=$((SECONDS - start))
[ "$rc" -eq 2 ] || fail "exit status $rc, expected 2"
lines=$(wc -l <"$scratch/stderr")
[ "$lines" -eq 1 ] || fail "$lines lines on stderr, expected 1"
grep -q 'no GPU' "$scratch/stderr" || fail "stderr does not say 'no GPU'"
[ ! -s "$scratch/stdout" ] || fail "output on stdout"
[ ! -e "$scratch/out" ] || fail "it wrote $scratch/out"
# Without an NVIDIA device node it decides without asking torch: at once.
if [ ! -e /dev/nvidiactl ] && [ ! -e /dev/dxg ] && [ "$took" -gt 10 ]; then
  fail "took $took s to find no GPU"
fi
echo "PASS: exit 2 in $took s; stderr: $(cat "$scratch/stderr")"
