#!/usr/bin/env bash
# Usage: expect_failure.sh PATTERN COMMAND...
# Passes when COMMAND exits non-zero and its output contains PATTERN; proves that the MPI test
# harness reports a failure that happens on one rank only.
set -u
pattern=$1
shift
out=$("$@" 2>&1)
rc=$?
echo "$out"
if [ "$rc" -eq 0 ]; then
  echo "expect_failure: the command exited 0, but one rank failed: the harness hides failures"
  exit 1
fi
if ! grep -q -- "$pattern" <<<"$out"; then
  echo "expect_failure: exit status $rc, but the output does not contain '$pattern'"
  exit 1
fi
echo "expect_failure: exit status $rc and '$pattern' reported, as expected"
