#!/usr/bin/env bash
# Runs `switchyard` under Open MPI's mpirun with the placement, binding and environment every rank
# needs. Works on one machine, on a list of hosts, with a hostfile, and inside a Slurm allocation
# (where mpirun takes the hosts and task count from Slurm).
#
# Usage: launch/mpirun.sh [options] [--] SWITCHYARD_ARGS...
#   -n, --np N               total ranks (default: hosts x ranks-per-node; SLURM_NTASKS inside
#                            an allocation; 1 on a single machine without --ranks-per-node)
#   -H, --hosts LIST         hosts, comma-separated: node1,node2 (see --ranks-per-node)
#   --hostfile FILE          an Open MPI hostfile ("node1 slots=4" per line)
#   -N, --ranks-per-node N   ranks on each host (default: SLURM_NTASKS_PER_NODE in an allocation,
#                            else the host's cores for --hosts/--hostfile, else --np)
#   --bind core|none         process binding (default: core, each rank on cores/ranks-per-node
#                            cores; none when ranks outnumber the cores: oversubscription)
#   --bin PATH               the switchyard executable (default: $SWITCHYARD_BIN, else
#                            build/launch/switchyard)
#   --mpirun-arg ARG         one more argument for mpirun (repeatable)
#   --dry-run                print the mpirun command instead of running it
# Every rank gets: OMP/OpenBLAS thread counts of its core share (switchyard sets both pools again
# at start-up), OMP_WAIT_POLICY=PASSIVE, the ring algorithm for non-blocking all-reduce (unless
# OMPI_MCA_coll_libnbc_iallreduce_algorithm is set), mpi_yield_when_idle when oversubscribed, PATH and
# LD_LIBRARY_PATH, and any NCCL_*/CUDA_VISIBLE_DEVICES set here. As root, Open MPI's run-as-root
# permission. In GPU builds each rank selects CUDA device local_rank % visible devices itself.
# SIGUSR1/SIGTERM sent to this script are forwarded to every rank as SIGUSR1 (checkpoint and exit
# 75; see docs/running.md).
# Example: launch/mpirun.sh --hosts n1,n2 -N 4 -- train examples/configs/default.pbtxt
set -euo pipefail

np="" hosts="" hostfile="" per_node="" bind="" dry_run=0
bin=${SWITCHYARD_BIN:-build/launch/switchyard}
extra=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "launch/mpirun.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -n | --np) np=${2:?}; shift 2 ;;
    -H | --hosts) hosts=${2:?}; shift 2 ;;
    --hostfile) hostfile=${2:?}; shift 2 ;;
    -N | --ranks-per-node) per_node=${2:?}; shift 2 ;;
    --bind) bind=${2:?}; shift 2 ;;
    --bin) bin=${2:?}; shift 2 ;;
    --mpirun-arg) extra+=("${2:?}"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no switchyard arguments (e.g. -- train examples/configs/default.pbtxt)"
[ -z "$hosts" ] || [ -z "$hostfile" ] || die "--hosts and --hostfile are exclusive"
[ -z "$hostfile" ] || [ -r "$hostfile" ] || die "hostfile $hostfile not readable"
case ${bind:-core} in core | none) ;; *) die "--bind must be core or none, got $bind" ;; esac
for v in "$np" "$per_node"; do
  [[ -z "$v" || "$v" =~ ^[1-9][0-9]*$ ]] || die "rank counts must be positive integers, got $v"
done

cores=$(nproc)
in_slurm=0
if [ -n "${SLURM_JOB_ID:-}" ] && [ -z "$hosts$hostfile" ]; then
  in_slurm=1
  # Inside an allocation mpirun reads hosts and slots from Slurm.
  per_node=${per_node:-${SLURM_NTASKS_PER_NODE:-}}
  np=${np:-${SLURM_NTASKS:-}}
  # The CPUs Slurm gave this job on the node, unless this host has fewer (an overcommitted node).
  [ "${SLURM_CPUS_ON_NODE:-$cores}" -ge "$cores" ] || cores=$SLURM_CPUS_ON_NODE
fi
num_hosts=1
if [ -n "$hosts" ]; then
  IFS=, read -r -a host_list <<<"$hosts"
  num_hosts=${#host_list[@]}
elif [ -n "$hostfile" ]; then
  num_hosts=$(grep -cvE '^[[:space:]]*(#|$)' "$hostfile")
elif [ $in_slurm -eq 1 ]; then
  num_hosts=${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}
fi
if [ -z "$per_node" ]; then
  if [ -n "$hosts$hostfile" ]; then
    per_node=$cores
  elif [ -n "$np" ]; then
    per_node=$(((np + num_hosts - 1) / num_hosts))
  else
    per_node=1
  fi
fi
np=${np:-$((num_hosts * per_node))}

# Each rank's core share; oversubscription (more ranks than cores) turns binding off and makes
# idle ranks yield, or a small all-to-all takes tens of times longer.
oversubscribed=0
[ "$per_node" -gt "$cores" ] && oversubscribed=1
threads=$((cores / per_node))
[ "$threads" -ge 1 ] || threads=1
[ $oversubscribed -eq 0 ] || bind=none
bind=${bind:-core}

cmd=(mpirun -np "$np")
if [ -n "$hosts" ]; then
  spec=""
  for h in "${host_list[@]}"; do spec+="${spec:+,}$h:$per_node"; done
  cmd+=(--host "$spec")
elif [ -n "$hostfile" ]; then
  cmd+=(--hostfile "$hostfile")
fi
if [ "$bind" = core ]; then
  cmd+=(--map-by "ppr:$per_node:node:PE=$threads" --bind-to core)
else
  cmd+=(--map-by "ppr:$per_node:node" --bind-to none)
fi
[ $oversubscribed -eq 0 ] || cmd+=(--oversubscribe -x OMPI_MCA_mpi_yield_when_idle=1)
# Non-blocking all-reduce (gradient buckets) as a ring: 0.45 ms instead of 1.2 ms for 3.3 MB on
# 2 ranks over shared memory with Open MPI 4.1's default choice (docs/benchmarks.md).
[ -n "${OMPI_MCA_coll_libnbc_iallreduce_algorithm:-}" ] ||
  cmd+=(--mca coll_libnbc_iallreduce_algorithm 1)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$threads}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cmd+=(-x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -x OMP_WAIT_POLICY -x PATH)
[ -z "${LD_LIBRARY_PATH:-}" ] || cmd+=(-x LD_LIBRARY_PATH)
for v in $(compgen -e | grep -E '^(NCCL_|CUDA_VISIBLE_DEVICES$)' || true); do cmd+=(-x "$v"); done
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
cmd+=("${extra[@]}" "$bin" "$@")

if [ $dry_run -eq 1 ]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
[ -x "$bin" ] || die "$bin is not an executable (build first, or pass --bin)"
# mpirun in the background so that this shell can forward SIGUSR1/SIGTERM as SIGUSR1 (mpirun
# forwards SIGUSR1 to every rank; SIGTERM would make it kill them instead).
"${cmd[@]}" &
pid=$!
trap 'kill -USR1 $pid 2>/dev/null || true' USR1 TERM
while :; do
  set +e
  wait "$pid"
  rc=$?
  set -e
  kill -0 "$pid" 2>/dev/null || break  # wait returned for a trapped signal: keep waiting
done
exit "$rc"
