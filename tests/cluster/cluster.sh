# Emulated multi-host cluster on one machine (sourced by the tests in tests/cluster/; see
# docs/cluster.md). Every "host" is a network namespace with its own UTS hostname; hosts are
# joined by two switched networks, each a bridge in a "switch" namespace:
#   control 10.200.0.0/24  veth ctl0 <-> switch port c<i> on br0   (Open MPI's out-of-band wire-up)
#   data    10.201.0.0/24  data0 <-> switch port d<i> on br1       (MPI payload: btl tcp)
# The data network is either kernel veth pairs (CLUSTER_DATA=veth) or TAP pairs joined by one
# userspace link_relay per host (CLUSTER_DATA=relay: one-way delay, loss, cut/reconnect).
# Bandwidth is shaped with `tc tbf` on both ends of every data cable (host uplink, switch port).
# Inside a host, Open MPI uses shared memory (btl vader); between hosts TCP over data0.
#
# Usage:
#   source tests/cluster/cluster.sh
#   cluster_up HOSTS SLOTS          # env: CLUSTER_DATA=veth|relay, CLUSTER_DELAY_US (one way,
#                                   # host to host), CLUSTER_RATE_MBIT, CLUSTER_RELAY (binary)
#   cluster_mpirun NP PROGRAM ARGS  # mpirun inside host 0, ranks placed by slots (fills h0 first)
#   cluster_cut I / cluster_reconnect I   # the data cable of host I (relay mode)
#   cluster_kill_host I             # SIGKILL every process of host I (orted and its ranks)
#   cluster_host_pids I             # pids running in host I
#   cluster_down                    # also run by the EXIT trap that cluster_up installs
# Everything is named after this shell's pid (namespaces sy<pid>h<i>, sy<pid>sw), so concurrent
# runs do not collide, and teardown kills only processes this run started.

CLUSTER_TAG="sy$$"
CLUSTER_HOSTS=0
CLUSTER_DIR=""
CLUSTER_RELAY_PIDS=()
CLUSTER_MPIRUN_PID=""
CLUSTER_MPIRUN_STATUS=""

cluster_fail() {
  echo "CLUSTER FAIL: $*" >&2
  exit 1
}

cluster_log() { echo "[cluster $(date +%T.%N | cut -c1-12)] $*" >&2; }

cluster_ns() { echo "${CLUSTER_TAG}h$1"; }

# Refuses to run where the emulation is impossible, with the reason (never a silent skip).
cluster_check_environment() {
  [ "$(id -u)" -eq 0 ] || cluster_fail "the emulated cluster needs root (network namespaces)"
  command -v ip >/dev/null || cluster_fail "iproute2 'ip' not found"
  command -v unshare >/dev/null || cluster_fail "util-linux 'unshare' not found"
  command -v tc >/dev/null || cluster_fail "iproute2 'tc' not found"
  [ -c /dev/net/tun ] || cluster_fail "/dev/net/tun missing (TUN/TAP needed by the link relay)"
  ip netns add "${CLUSTER_TAG}probe" 2>/dev/null || cluster_fail "cannot create a network namespace"
  ip netns del "${CLUSTER_TAG}probe"
}

# Namespaces left by an earlier run that was SIGKILLed (its shell pid is gone): remove them.
cluster_remove_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sy[0-9]+(h[0-9]+|sw)$'); do
    pid=${ns#sy}
    pid=${pid%%[hs]*}
    if ! kill -0 "$pid" 2>/dev/null; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null && cluster_log "removed stale namespace $ns"
    fi
  done
}

cluster_up() {
  local hosts=$1 slots=$2 i ns sw mode=${CLUSTER_DATA:-veth}
  cluster_check_environment
  cluster_remove_stale
  CLUSTER_HOSTS=$hosts
  CLUSTER_DIR=$(mktemp -d "/tmp/${CLUSTER_TAG}.XXXX")
  trap cluster_down EXIT
  trap 'exit 130' INT TERM
  sw="${CLUSTER_TAG}sw"
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  for br in br0 br1; do
    ip -n "$sw" link add "$br" type bridge
    ip -n "$sw" link set "$br" up
  done
  : >"$CLUSTER_DIR/hostfile"
  for i in $(seq 0 $((hosts - 1))); do
    ns=$(cluster_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # control network: veth
    ip link add ctl0 netns "$ns" type veth peer name "c$i" netns "$sw"
    ip -n "$sw" link set "c$i" master br0 up
    ip -n "$ns" addr add "10.200.0.$((i + 1))/24" dev ctl0
    ip -n "$ns" link set ctl0 up
    # data network
    if [ "$mode" = relay ]; then
      ip -n "$ns" tuntap add dev data0 mode tap
      ip -n "$sw" tuntap add dev "d$i" mode tap
    else
      ip link add data0 netns "$ns" type veth peer name "d$i" netns "$sw"
    fi
    ip -n "$ns" link set data0 mtu 9000
    ip -n "$sw" link set "d$i" mtu 9000
    ip -n "$sw" link set "d$i" master br1 up
    ip -n "$ns" addr add "10.201.0.$((i + 1))/24" dev data0
    ip -n "$ns" link set data0 up
    if [ -n "${CLUSTER_RATE_MBIT:-}" ] && [ "${CLUSTER_RATE_MBIT}" != 0 ]; then
      for end in "$ns data0" "$sw d$i"; do
        set -- $end
        tc -n "$1" qdisc add dev "$2" root tbf rate "${CLUSTER_RATE_MBIT}mbit" burst 128kb \
          latency 10ms || cluster_fail "tc tbf on $1/$2 failed"
      done
      set --
    fi
    if [ "$mode" = relay ]; then
      # A packet crosses two cables (host -> switch -> host): half the one-way delay on each.
      local half
      half=$(( ${CLUSTER_DELAY_US:-0} / 2 ))
      "${CLUSTER_RELAY:?CLUSTER_RELAY must name the link_relay binary}" "$ns" data0 "$sw" "d$i" \
        "$half" 0 "${CLUSTER_LOSS_PCT:-0}" >"$CLUSTER_DIR/relay$i.log" 2>&1 &
      CLUSTER_RELAY_PIDS[$i]=$!
    fi
    echo "$ns slots=$slots" >>"$CLUSTER_DIR/hostfile"
  done
  # Open MPI's "ssh": enter the host's namespace with its own hostname, run the command string.
  cat >"$CLUSTER_DIR/agent.sh" <<EOF
#!/bin/sh
host="\$1"; shift
case "\$host" in ${CLUSTER_TAG}h[0-9]*) ;; *) echo "agent: unknown host \$host" >&2; exit 255;; esac
exec ip netns exec "\$host" unshare --uts /bin/sh -c 'hostname "\$0"; exec /bin/sh -c "\$1"' "\$host" "\$*"
EOF
  chmod +x "$CLUSTER_DIR/agent.sh"
  if [ "$mode" = relay ]; then
    for i in $(seq 0 $((hosts - 1))); do
      for _ in $(seq 50); do grep -q ready "$CLUSTER_DIR/relay$i.log" && break; sleep 0.1; done
      grep -q ready "$CLUSTER_DIR/relay$i.log" || cluster_fail "link relay $i: $(cat "$CLUSTER_DIR/relay$i.log")"
    done
  fi
  # Every host reaches every other over both networks (TCP connect to a closed port answers RST).
  for i in $(seq 1 $((hosts - 1))); do
    for net in 200 201; do
      cluster_reachable 0 "10.$net.0.$((i + 1))" || cluster_fail "host 0 cannot reach 10.$net.0.$((i + 1))"
    done
  done
  cluster_log "up: $hosts hosts x $slots slots, data=$mode delay=${CLUSTER_DELAY_US:-0}us rate=${CLUSTER_RATE_MBIT:-0}Mbit ($CLUSTER_DIR)"
}

# True when host I gets any TCP answer (RST or SYN-ACK) from ADDR within 3 s.
cluster_reachable() {
  local out
  for _ in 1 2 3; do
    out=$(ip netns exec "$(cluster_ns "$1")" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
    case "$out" in *refused*|"") return 0 ;; esac
    sleep 0.3
  done
  return 1
}

cluster_mpirun_args() {
  echo --hostfile "$CLUSTER_DIR/hostfile" --oversubscribe \
    --mca plm_rsh_agent "$CLUSTER_DIR/agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include 10.200.0.0/24 --mca btl_tcp_if_include 10.201.0.0/24 \
    --mca btl self,vader,tcp --bind-to none --mca mpi_yield_when_idle 1 \
    -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1
  # Under a sanitizer build's test environment (tests/CMakeLists.txt), the ranks on every host
  # get the same sanitizer options and preload.
  local v
  for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS LD_PRELOAD; do
    if [ -n "${!v:-}" ]; then echo -x "$v"; fi
  done
}

# Runs mpirun in host 0 in the foreground; returns its exit status.
cluster_mpirun() {
  local np=$1
  shift
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ip netns exec "$(cluster_ns 0)" mpirun -np "$np" $(cluster_mpirun_args) "$@"
}

# Starts mpirun in the background, output to FILE; sets CLUSTER_MPIRUN_PID.
cluster_mpirun_bg() {
  local out=$1 np=$2
  shift 2
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ip netns exec "$(cluster_ns 0)" mpirun -np "$np" $(cluster_mpirun_args) "$@" >"$out" 2>&1 &
  CLUSTER_MPIRUN_PID=$!
}

# Waits up to S seconds for the background mpirun; sets CLUSTER_MPIRUN_STATUS to its exit
# status, or to "hung" if it is still running (call it directly, not in $(...): only this shell
# can wait for its child).
cluster_wait_mpirun() {
  local s=$1
  for _ in $(seq $((s * 10))); do
    kill -0 "$CLUSTER_MPIRUN_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$CLUSTER_MPIRUN_PID" 2>/dev/null; then
    CLUSTER_MPIRUN_STATUS=hung
    return 0
  fi
  wait "$CLUSTER_MPIRUN_PID"
  CLUSTER_MPIRUN_STATUS=$?
  CLUSTER_MPIRUN_PID=""
}

cluster_host_pids() { ip netns pids "$(cluster_ns "$1")"; }

cluster_cut() {
  [ -n "${CLUSTER_RELAY_PIDS[$1]:-}" ] || cluster_fail "cluster_cut needs CLUSTER_DATA=relay"
  kill -USR1 "${CLUSTER_RELAY_PIDS[$1]}"
  cluster_log "cut the data cable of host $1"
}

# Reconnects the data cable of host I and prints how many frames the cut dropped.
cluster_reconnect() {
  local n
  n=$(grep -c reconnected "$CLUSTER_DIR/relay$1.log")
  kill -USR2 "${CLUSTER_RELAY_PIDS[$1]}"
  for _ in $(seq 30); do
    [ "$(grep -c reconnected "$CLUSTER_DIR/relay$1.log")" -gt "$n" ] && break
    sleep 0.1
  done
  cluster_log "reconnected the data cable of host $1: $(grep reconnected "$CLUSTER_DIR/relay$1.log" | tail -1)"
  grep reconnected "$CLUSTER_DIR/relay$1.log" | tail -1 | awk '{print $2}'
}

cluster_kill_host() {
  local p
  for p in $(cluster_host_pids "$1"); do kill -9 "$p" 2>/dev/null; done
  cluster_log "killed every process of host $1"
}

# Bytes sent by host I on its data NIC (kernel counter, includes Ethernet/IP/TCP headers).
cluster_data_tx_bytes() {
  ip netns exec "$(cluster_ns "$1")" cat /sys/class/net/data0/statistics/tx_bytes
}

cluster_down() {
  local ns p i sig
  [ -n "$CLUSTER_DIR" ] || return 0
  trap - EXIT
  if [ -n "$CLUSTER_MPIRUN_PID" ] && kill -0 "$CLUSTER_MPIRUN_PID" 2>/dev/null; then
    kill -TERM "$CLUSTER_MPIRUN_PID" 2>/dev/null
  fi
  for sig in TERM KILL; do
    for i in $(seq 0 $((CLUSTER_HOSTS - 1))); do
      for p in $(cluster_host_pids "$i" 2>/dev/null); do kill -$sig "$p" 2>/dev/null; done
    done
    [ "$sig" = TERM ] && sleep 0.5
  done
  [ -n "$CLUSTER_MPIRUN_PID" ] && kill -KILL "$CLUSTER_MPIRUN_PID" 2>/dev/null
  for p in "${CLUSTER_RELAY_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${CLUSTER_RELAY_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for i in $(seq 0 $((CLUSTER_HOSTS - 1))); do ip netns del "$(cluster_ns "$i")" 2>/dev/null; done
  ip netns del "${CLUSTER_TAG}sw" 2>/dev/null
  if ip netns list | grep -q "^${CLUSTER_TAG}"; then
    echo "CLUSTER WARNING: namespaces left: $(ip netns list | grep "^${CLUSTER_TAG}")" >&2
  fi
  rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=""
  cluster_log "down"
}
