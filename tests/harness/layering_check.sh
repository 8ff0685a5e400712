#!/usr/bin/env bash
# Structural rules of the source tree (docs/architecture.md), checked by grep so that a change
# that breaks one fails the suite:
#   1. layers include only downward: core <- comm <- models <- train <- launch;
#   2. models/ and train/ issue no collective directly: small host collectives go through
#      comm/host_collectives.h, payload through the comm/ exchange functions; the one allowed
#      direct call is the gradient synchronizer's bucket all-reduce (payload);
#   3. no dynamic_cast in models/ and train/ (the forward path dispatches by virtual calls);
#   4. no environment variables below launch/;
#   5. no asprintf/vasprintf anywhere (tests/sanitizers/lsan.supp suppresses leaks allocated
#      inside glibc's vasprintf as Open MPI's, which is true only while our code never calls it).
# Usage: layering_check.sh SOURCE_DIR
set -uo pipefail
src=${1:?source dir}
cd "$src" || exit 2
fail=0
report() { echo "layering_check: $1"; fail=1; }

upward() {  # upward LAYER FORBIDDEN...
  local layer=$1; shift
  for up in "$@"; do
    hits=$(grep -rn --include='*.h' --include='*.cc' "#include \"$up/" "$layer" || true)
    [ -z "$hits" ] || report "$layer/ includes $up/ (layers depend only downward):"$'\n'"$hits"
  done
}
upward core comm models train launch
upward comm models train launch
upward models train launch
upward train launch

collectives=$(grep -rnE --include='*.h' --include='*.cc' \
    '(->|\.)(all_reduce|all_gather|broadcast|barrier|all_to_all)\(' models train |
  grep -vE '^[^:]+:[0-9]+:\s*//' |
  grep -v '^train/grad_sync.cc:.*group\.all_reduce(b\.flat)' || true)
[ -z "$collectives" ] ||
  report "direct collectives in models/ or train/ (use comm/host_collectives.h):"$'\n'"$collectives"

casts=$(grep -rn --include='*.h' --include='*.cc' 'dynamic_cast' models train || true)
[ -z "$casts" ] || report "dynamic_cast in models/ or train/:"$'\n'"$casts"

env=$(grep -rnE --include='*.h' --include='*.cc' '\b(getenv|setenv|putenv|environ)\b' \
    core comm models train | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
[ -z "$env" ] || report "environment access below launch/:"$'\n'"$env"

aspf=$(grep -rnE --include='*.h' --include='*.cc' --include='*.c' '\bv?asprintf\(' \
    core comm models train launch examples tests | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
[ -z "$aspf" ] || report "asprintf/vasprintf (see tests/sanitizers/lsan.supp):"$'\n'"$aspf"

if [ "$fail" -eq 0 ]; then echo "layering_check: ok"; fi
exit "$fail"
