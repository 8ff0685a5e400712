#!/usr/bin/env bash
# run-gpu-tests.sh of a Switchyard GPU bundle (written by launch/gpu-bundle.sh; source:
# launch/gpu/run-gpu-tests.sh): runs the bundle's `ctest -L gpu` tests (tests/gpu-tests.tsv, made
# from the build's CTest files by launch/gpu/ctest_to_tsv.py) the way ctest runs them: the same
# command under the bundle's mpiexec, the same environment and timeout, and ctest's verdict
# (skip return code and skip regex first, then the fail regex, the pass regex, the exit status).
#
# Usage: gpu-bundle/run-gpu-tests.sh [--timeout-cap SECONDS] [--workdir DIR] [-R REGEX]
#   --timeout-cap  no test runs longer than this (default: each test's own TIMEOUT)
#   --workdir      where the tests run and their logs go (default: a new directory in /tmp)
#   -R             only tests whose name matches REGEX (bash regex)
# Prints one line per test (PASS/FAIL/SKIP, seconds; a failure's last log lines) and a last line
#   gpu tests: P passed, F failed, S skipped (of N)
# Exit status 0 when none failed, 1 otherwise, 2 on a usage error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cap=0
workdir=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout-cap) cap=${2:?--timeout-cap needs SECONDS}; shift 2 ;;
    --workdir) workdir=${2:?--workdir needs DIR}; shift 2 ;;
    -R) only=${2:?-R needs REGEX}; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-gpu-tests.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
tsv="$here/tests/gpu-tests.tsv"
if [ ! -f "$tsv" ]; then
  echo "run-gpu-tests.sh: no $tsv: not a GPU bundle" >&2
  exit 2
fi
if [ "${SWITCHYARD_BUNDLE:-}" != "$here" ]; then
  # shellcheck source=/dev/null  # the bundle's env.sh (launch/gpu/env.sh)
  . "$here/env.sh" || exit 1
fi
if [ -z "$workdir" ]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-gpu-tests.XXXXXX")
fi
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd -P)
echo "gpu tests: logs in $workdir"

passed=0 failed=0 skipped=0 total=0
while IFS=$'\t' read -r name timeout skip_rc skip_re fail_re pass_re envs rest; do
  [ -n "$name" ] || continue
  if [ -n "$only" ] && ! [[ $name =~ $only ]]; then
    continue
  fi
  total=$((total + 1))
  IFS=$'\t' read -r -a words <<<"$rest"
  cmd=()
  for w in "${words[@]}"; do
    w=${w//@MPIEXEC@/$here/ompi/bin/mpiexec}
    w=${w//@TESTS@/$here/tests}
    cmd+=("$w")
  done
  env_words=()
  if [ "$envs" != - ]; then
    read -r -a env_words <<<"$envs"
  fi
  t=$timeout
  if [ "$cap" -gt 0 ] && [ "$t" -gt "$cap" ]; then
    t=$cap
  fi
  log="$workdir/$name.log"
  mkdir -p "$workdir/$name.wd"
  start=$SECONDS
  rc=0
  (cd "$workdir/$name.wd" && exec env "${env_words[@]}" timeout -k 10 "$t" "${cmd[@]}") \
    </dev/null >"$log" 2>&1 || rc=$?
  output=$(cat "$log")
  verdict=FAIL
  why=""
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    why="timed out after $t s"
  elif [ "$skip_rc" != - ] && [ "$rc" -eq "$skip_rc" ]; then
    verdict=SKIP
  elif [ "$skip_re" != - ] && [[ $output =~ $skip_re ]]; then
    verdict=SKIP
  elif [ "$fail_re" != - ] && [[ $output =~ $fail_re ]]; then
    why="output matches '$fail_re'"
  elif [ "$pass_re" != - ]; then
    if [[ $output =~ $pass_re ]]; then verdict=PASS; else why="output lacks '$pass_re'"; fi
  elif [ "$rc" -eq 0 ]; then
    verdict=PASS
  else
    why="exit status $rc"
  fi
  case $verdict in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
  esac
  echo "$verdict $name ($((SECONDS - start)) s)${why:+: $why}"
  if [ "$verdict" = FAIL ]; then
    tail -n 30 "$log" | sed 's/^/    /'
  fi
done <"$tsv"
echo "gpu tests: $passed passed, $failed failed, $skipped skipped (of $total)"
[ "$failed" -eq 0 ]
