# A private one-node Slurm on loopback, for tests of the batch scripts in launch/slurm/.
# Source this file, then:
#   slurm_ensure_packages            install slurm-wlm and munge when missing (root, no prompt)
#   slurm_start DIR                  start munged, slurmctld and slurmd with everything (config,
#                                    key, sockets, ports, state, logs, pid files) under DIR;
#                                    exports SLURM_CONF so sbatch/scontrol/srun use this cluster
#   slurm_stop                       stop the daemons this shell started, by their pids
# Nothing under /etc is written and no system service is touched, so a Slurm that the machine
# already runs is left alone. There is no systemd here: the daemons are started by hand.
# Every failure prints the reason and returns non-zero (the caller fails; nothing is skipped).

slurm_log() { echo "local_slurm: $*" >&2; }

slurm_ensure_packages() {
  local missing=() p
  for p in slurm-wlm munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    slurm_log "packages ${missing[*]} are missing and this is not root: run launch/install-deps.sh as root"
    return 1
  fi
  slurm_log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    </dev/null >/dev/null 2>&1 ||
    { apt-get update -qq </dev/null >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" </dev/null >/dev/null; } ||
    { slurm_log "apt-get install ${missing[*]} failed"; return 1; }
}

# A TCP port nobody listens on, from $1 upwards.
slurm_free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

SLURM_TEST_PIDS=()

slurm_start() {
  local dir=$1 host ctld_port slurmd_port i
  if [ "$(id -u)" -ne 0 ]; then
    slurm_log "starting slurmd needs root (it launches jobs as their users)"
    return 1
  fi
  host=$(hostname -s)
  # Daemons of an earlier run in DIR that was killed before it could stop them (a ctest timeout
  # kills without a trap): stop them by their pid files first.
  local f pid
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    pid=$(cat "$f" 2>/dev/null) || continue
    if slurm_alive "$pid" && grep -qE 'munged|slurmctld|slurmd' "/proc/$pid/comm" 2>/dev/null; then
      slurm_log "stopping daemon $pid left by an earlier run"
      kill "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir" && mkdir -p "$dir"/{munge,ctld,spool,log}
  dir=$(cd "$dir" && pwd)
  # munged wants its socket directory traversable by all and its key readable by munge only.
  chmod 755 "$dir" && chmod 755 "$dir/munge" && chown munge:munge "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key"
  runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" ||
    { slurm_log "munged did not start: $(tail -3 "$dir/munge/munged.log" 2>/dev/null)"; return 1; }
  SLURM_TEST_PIDS+=("$(cat "$dir/munge/munged.pid")")

  ctld_port=$(slurm_free_port 16817)
  slurmd_port=$(slurm_free_port $((ctld_port + 1)))
  # The node line as slurmd sees this machine, memory lowered so the node is never "low mem".
  # At least 4 CPUs are declared (SlurmdParameters=config_overrides lets slurmd accept more than
  # the hardware has), so the batch scripts' 4-task layouts fit on a 2-core machine as they are,
  # without --overcommit.
  local node_line mem
  node_line=$(/usr/sbin/slurmd -C | head -1)
  mem=${node_line##*RealMemory=}
  node_line="${node_line% RealMemory=*} RealMemory=$((mem * 9 / 10))"
  if [ "$(nproc)" -lt 4 ]; then
    node_line="NodeName=$host CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=$((mem * 9 / 10))"
  fi
  cat >"$dir/slurm.conf" <<EOF
ClusterName=sytest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again after cred_expire + 1 s (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=20
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=600
SchedulerParameters=sched_interval=2
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=30 State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -f "$SLURM_CONF" ||
    { slurm_log "slurmctld did not start: $(tail -3 "$dir/log/slurmctld.log" 2>/dev/null)"; return 1; }
  for i in $(seq 1 50); do [ -s "$dir/slurmctld.pid" ] && break; sleep 0.1; done
  SLURM_TEST_PIDS+=("$(cat "$dir/slurmctld.pid")")
  /usr/sbin/slurmd -f "$SLURM_CONF" ||
    { slurm_log "slurmd did not start: $(tail -3 "$dir/log/slurmd.log" 2>/dev/null)"; return 1; }
  for i in $(seq 1 50); do [ -s "$dir/slurmd.pid" ] && break; sleep 0.1; done
  SLURM_TEST_PIDS+=("$(cat "$dir/slurmd.pid")")
  for i in $(seq 1 300); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx idle; then
      slurm_log "node $host idle (slurmctld port $ctld_port, slurmd port $slurmd_port)"
      return 0
    fi
    sleep 0.1
  done
  slurm_log "the node did not become idle in 30 s: $(sinfo 2>&1 | tail -2)"
  slurm_log "slurmctld log: $(tail -5 "$dir/log/slurmctld.log" 2>/dev/null)"
  slurm_log "slurmd log: $(tail -5 "$dir/log/slurmd.log" 2>/dev/null)"
  return 1
}

# True while PID runs (a daemon whose parent does not reap it stays a zombie: not running).
slurm_alive() {
  local state
  state=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

slurm_stop() {
  local pid i
  # Reverse order: slurmd, slurmctld, munged.
  for ((i = ${#SLURM_TEST_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${SLURM_TEST_PIDS[$i]}
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${SLURM_TEST_PIDS[@]}"; do
    for i in $(seq 1 50); do slurm_alive "$pid" || break; sleep 0.1; done
    ! slurm_alive "$pid" || kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_TEST_PIDS=()
}
