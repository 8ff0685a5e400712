#!/usr/bin/env bash
# docs/planner.md §4: `bench a2a` / `bench moe-layer` on an emulated multi-host cluster
# (tests/cluster/cluster.sh: network namespaces, kernel veth data network shaped by tc tbf).
# usage (root, from the repository root, normal priority):
#   [TAG=t] run_cluster.sh OUT_DIR RATE_MBIT HOSTS SLOTS a2a|moe RUN [extra bench args]
# Writes OUT_DIR/{a2a|moe}[_TAG]_<rate>m_<hosts>x<slots>_<run>.json and appends the load averages
# before and after to OUT_DIR/load.txt. Brings the cluster up and down (EXIT trap).
set -eu
out=$1 rate=$2 hosts=$3 slots=$4 kind=$5 run=$6
shift 6
args=("$@")
sy=${SY:-build/launch/switchyard}
mkdir -p "$out"
export CLUSTER_DATA=${CLUSTER_DATA:-veth} CLUSTER_RATE_MBIT=0 CLUSTER_MPIRUN_TIMEOUT=900
source tests/cluster/cluster.sh
cluster_up "$hosts" "$slots"
# The shaping of cluster.sh (tbf rate R burst 128kb latency 10ms) with a deep queue (limit 32 MB)
# instead of its 10 ms one: that queue overflows when a host has more than ~1.4 MB (1 Gbit/s) /
# 0.4 MB (200 Mbit/s) in flight, and TCP then recovers from losses (retransmission timeouts of
# >= 200 ms), which is the emulator's buffer, not the link (docs/planner.md §4). Same rate and
# burst. Options for the experiments of §4: BURST (token bucket, default 128kb) and CLUSTER_TCP
# (congestion control inside the hosts, default: the machine's, bbr; reno is the other allowed).
burst=${BURST:-128kb}
if [ -n "${CLUSTER_TCP:-}" ]; then
  for i in $(seq 0 $((hosts - 1))); do
    ip netns exec "$(cluster_ns "$i")" sysctl -q -w net.ipv4.tcp_congestion_control="$CLUSTER_TCP" \
      net.ipv4.tcp_slow_start_after_idle=0
  done
fi
for i in $(seq 0 $((hosts - 1))); do
  for end in "$(cluster_ns "$i") data0" "${CLUSTER_TAG}sw d$i"; do
    set -- $end
    tc -n "$1" qdisc replace dev "$2" root tbf rate "${rate}mbit" burst "$burst" limit 32mb
  done
done
set --
np=$((hosts * slots))
tag=${kind}${TAG:+_$TAG}_${rate}m_${hosts}x${slots}_${run}
before=$(cat /proc/loadavg)
t0=$(date +%s)
if [ "$kind" = a2a ]; then
  cluster_mpirun "$np" --timeout 900 "$sy" bench a2a --ranks-per-node 0 \
    --json "$out/$tag.json" "${args[@]}" >"$out/$tag.txt" 2>&1
else
  cluster_mpirun "$np" --timeout 900 "$sy" bench moe-layer --ranks-per-node 0 --json "$out/$tag.json" \
    "${args[@]}" >"$out/$tag.txt" 2>&1
fi
echo "$tag $(date -u +%FT%TZ) $(( $(date +%s) - t0 ))s load before: $before | after: $(cat /proc/loadavg) | burst $burst tcp ${CLUSTER_TCP:-default} | args: ${args[*]}" | tee -a "$out/load.txt"
