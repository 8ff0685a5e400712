#!/usr/bin/env bash
# The default training job (`make train`): 4 ranks on this host emulating 2 nodes x 2 ranks
# (comm.ranks_per_node: 2 in the config), so expert parallelism uses the hierarchical
# all-to-all. Then it renders the plots of the run.
# Usage: launch/train.sh [BUILD_DIR] [extra switchyard train arguments, e.g. --set ...]
set -euo pipefail
build=${1:-build}
shift || true
config=examples/configs/default.pbtxt
bin="$build/launch/switchyard"
run_dir=runs/default

"$bin" config validate "$config" --world-size 4 "$@"
# As root (containers, CI) Open MPI needs these; 4 ranks on fewer cores need oversubscription.
# Ranks must not busy-wait on a shared core: --bind-to none, yield when idle, passive OpenMP.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMP_WAIT_POLICY=PASSIVE
mpirun -np 4 --oversubscribe --bind-to none \
  -x OMP_WAIT_POLICY -x OMPI_MCA_mpi_yield_when_idle \
  "$bin" train "$config" --set logging.run_dir="$run_dir" "$@"
"$bin" plot "$run_dir" >/dev/null && echo "plots: $run_dir/loss.png $run_dir/expert_load_layer*.png"
