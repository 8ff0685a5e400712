#!/usr/bin/env bash
# Runs one MPI program across an emulated cluster and tears it down (docs/cluster.md).
#   run_on_cluster.sh HOSTS SLOTS PROGRAM [ARGS...]
# env CLUSTER_DATA / CLUSTER_RELAY / CLUSTER_DELAY_US / CLUSTER_RATE_MBIT as in cluster.sh.
# Exits with the program's status (mpirun's); mpirun --timeout 150 guards against a hang.
set -uo pipefail
hosts=$1 slots=$2
shift 2
source "$(dirname "$0")/cluster.sh"
cluster_up "$hosts" "$slots"
cluster_mpirun $((hosts * slots)) --timeout "${CLUSTER_MPIRUN_TIMEOUT:-150}" "$@"
rc=$?
echo "run_on_cluster: $hosts hosts x $slots ranks: exit status $rc"
exit $rc
