# The body shared by the batch scripts in launch/slurm/ (sourced by them; not run by hand).
#   sy_slurm_job srun|mpirun CONFIG [switchyard train arguments...]
# 1. validates CONFIG for the job's task count, 2. runs `switchyard train` on every task with
# srun --mpi=pmix or with launch/mpirun.sh inside the allocation, 3. on SIGUSR1/SIGTERM to this
# batch shell (#SBATCH --signal=B:USR1@..., scancel --signal=USR1 --batch JOB) forwards SIGUSR1
# to the ranks, which finish the current step, checkpoint and exit 75, and 4. on exit status 75
# requeues the job (#SBATCH --requeue): the next run resumes from that checkpoint, because
# checkpoint.resume is on and the run directory is the same.
# Environment: SWITCHYARD_HOME (repository root; default the submit directory), SWITCHYARD_BIN
# (default build/launch/switchyard), SWITCHYARD_MAX_REQUEUES (default 20).

sy_slurm_job() {
  local launcher=$1 config=$2
  shift 2
  cd "${SWITCHYARD_HOME:-${SLURM_SUBMIT_DIR:-.}}" || return 1
  local bin=${SWITCHYARD_BIN:-build/launch/switchyard} pid="" stop=0
  # A signal before the ranks run must not kill this shell: remember it, forward it later.
  trap 'stop=1; [ -z "$pid" ] || kill -USR1 "$pid" 2>/dev/null || true' USR1 TERM
  local restarts=${SLURM_RESTART_COUNT:-0} max=${SWITCHYARD_MAX_REQUEUES:-20}
  echo "switchyard job ${SLURM_JOB_ID:-?} run $((restarts + 1)): ${SLURM_NTASKS:-?} tasks on" \
    "${SLURM_JOB_NUM_NODES:-?} node(s) (${SLURM_JOB_NODELIST:-?}), launcher $launcher"
  "$bin" config validate "$config" --world-size "${SLURM_NTASKS:-1}" "$@" || return 2
  # Ranks may share cores (--overcommit): they must yield instead of spinning.
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} OMPI_MCA_mpi_yield_when_idle=1
  # Ring non-blocking all-reduce for the gradient buckets (see launch/mpirun.sh).
  export OMPI_MCA_coll_libnbc_iallreduce_algorithm=${OMPI_MCA_coll_libnbc_iallreduce_algorithm:-1}
  case $launcher in
    srun)
      srun --mpi=pmix --kill-on-bad-exit=1 "$bin" train "$config" "$@" &
      ;;
    mpirun)
      launch/mpirun.sh --bin "$bin" -- train "$config" "$@" &
      ;;
    *)
      echo "sy_slurm_job: unknown launcher $launcher (srun or mpirun)" >&2
      return 2
      ;;
  esac
  pid=$!
  local rc
  # Bash runs a trap only between commands: the launcher runs in the background and `wait`
  # returns early when a signal arrives.
  trap 'echo "switchyard job: preemption signal, forwarding SIGUSR1 to the ranks"
        kill -USR1 "$pid" 2>/dev/null || true' USR1 TERM
  [ "$stop" -eq 0 ] || kill -USR1 "$pid" 2>/dev/null || true
  while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  trap - USR1 TERM
  if [ "$rc" -eq 75 ]; then
    if [ "$restarts" -ge "$max" ]; then
      echo "switchyard job: stopped with a checkpoint; not requeued (already $restarts restarts)"
      return 75
    fi
    echo "switchyard job: checkpoint written, requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
    return 0
  fi
  echo "switchyard job: training exited with status $rc"
  return "$rc"
}
