#!/usr/bin/env python3
"""Cluster files of the emulated clusters of docs/planner.md §4, fitted to as little as possible.

fit_emulated.py SWITCHYARD MEASURED_DIR OUT_DIR [--link-from median|flat]
Reads from MEASURED_DIR:
  intra_np2_1.json, intra_np4_1.json   bench a2a on ONE namespace-free host, 2 and 4 ranks as one
                                       node (shared memory only), 1 KiB and 1 MiB
  a2a_<rate>m_2x2_1.json               the first 2 hosts x 2 ranks run at each link speed: flat
                                       at 1 KiB (alpha) and, at 1 MiB (bandwidth), the median of
                                       flat, hierarchical and leader (--link-from median, the
                                       default: all three carry the same 4 S per host over the
                                       link, and one of them can run far below the rate for TCP
                                       reasons, docs/planner.md §4) or flat alone (--link-from flat,
                                       the first fit of §4.1)
  moe_np2_1.json                       bench moe-layer on the plain host, 2 ranks as one node (1
                                       BLAS thread each, as in the cluster runs), default MoE
                                       model at T 512 per rank, dropless
Writes OUT_DIR/emulated_<rate>m.pbtxt with a comment per figure. Every other size, shape and
algorithm is a prediction.
"""
import json
import math
import os
import subprocess
import sys

sy, meas, out = sys.argv[1:4]
link_from = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--link-from" else "median"
assert link_from in ("median", "flat"), link_from
KIB, MIB = 1024, 1 << 20


def lat(path, method, size):
    for r in json.load(open(path))["results"]:
        if r["method"] == method and r["bytes_per_peer"] == size:
            return r["latency_us"] * 1e-6
    raise KeyError((path, method, size))


# Intra-node (shared memory; cpu_hosts 1: every rank of the machine shares it). Flat over n
# ranks of one node: (n - 1) alpha_i + n (n - 1) S / bw_i + overhead.
i2k = lat(f"{meas}/intra_np2_1.json", "flat", KIB)
i4k = lat(f"{meas}/intra_np4_1.json", "flat", KIB)
i4m = lat(f"{meas}/intra_np4_1.json", "flat", MIB)
bw_i = 12 * (MIB - KIB) / (i4m - i4k)
alpha_i = max(0.0, (i4k - i2k - 10 * KIB / bw_i) / 2)
ovh = max(0.0, i2k - alpha_i - 2 * KIB / bw_i)

# GEMMs: bench moe-layer's dense chain on each of 2 ranks (3 x 2 GEMMs of 2 T k d F FLOPs); the
# machine's figure is the 2 ranks' together (compute_shared_by_host divides it among its ranks).
moe = json.load(open(f"{meas}/moe_np2_1.json"))[0]
T, k, d, F = 512, 2, 128, 256
gemm = 2 * 12.0 * T * k * d * F / (moe["dense_ms"] * 1e-3) / 1e12

figures = {}
for rate in (1000, 200):
    f = f"{meas}/a2a_{rate}m_2x2_1.json"
    tk = lat(f, "flat", KIB)
    if link_from == "flat":
        tm = lat(f, "flat", MIB)
    else:
        tm = sorted(lat(f, m, MIB) for m in ("flat", "hierarchical", "leader"))[1]
    # 2 hosts x 2 ranks, flat: a rank sends 2 inter-node messages of S; a host 4 S over its link.
    # max(intra, inter) + overhead, inter = 2 alpha_e + 4 S / bw_e.
    alpha_e, bw_e = 0.0, 4 * MIB / tm
    for _ in range(50):
        bw_e = 4 * (MIB - KIB) / (tm - tk)
        alpha_e = max(0.0, (tk - ovh - 4 * KIB / bw_e) / 2)
    figures[rate] = (alpha_e, bw_e, tk, tm)


def write(rate, mem_bw):
    alpha_e, bw_e, tk, tm = figures[rate]
    text = f"""# Emulated cluster of docs/cluster.md at {rate} Mbit/s for docs/planner.md §4: network
# namespaces (one per node, own TCP stack and link) on ONE 2-core machine (cpu_hosts 1), kernel
# veth data network shaped by tc tbf {rate} Mbit/s per host and switch port (deep queue,
# tests/plan/validation/run_cluster.sh), no added delay. Written by fit_emulated.py; every
# figure from exactly these measurements (tests/plan/validation/measured/{os.path.basename(os.path.normpath(meas))}/):
#   inter_node latency_us, bandwidth_gbps: a2a_{rate}m_2x2_1.json, flat at 1 KiB
#     ({tk * 1e6:.1f} us) and 1 MiB ({tm * 1e6:.0f} us, {link_from} of the algorithms): 2 messages x alpha + 4 S / bw per host
#     (configured rate {rate / 8e3:.4f} GB/s; the fit is what TCP over it delivers; alpha is
#     clamped at 0 when 1 KiB took less than 4 KiB at that rate: the token bucket, §4)
#   intra_node, phase_overhead_us: intra_np2_1.json and intra_np4_1.json (bench a2a on the plain
#     host, 2 and 4 ranks as one node, shared memory only), flat, 1 KiB and 1 MiB
#   gemm_tflops_fp32, memory_bandwidth_gbps: moe_np2_1.json (bench moe-layer on the plain host,
#     2 ranks as one node, default MoE model, T 512 per rank, dropless): dense chain -> GEMM
#     ({moe["dense_ms"]:.2f} ms per rank); moe_ms ({moe["moe_ms"]:.2f}) -> memory bandwidth
name: "emulated_{rate}m"
source: "fit_emulated.py: 2x2 1 KiB (flat) + 1 MiB ({link_from}) ({rate} Mbit/s), one-host bench a2a and moe-layer"
nodes: 2
ranks_per_node: 2
physical_hosts: 0
cpu_hosts: 1
intra_node {{ latency_us: {alpha_i * 1e6:.2f} bandwidth_gbps: {bw_i / 1e9:.4f} scope: PER_HOST }}
inter_node {{ latency_us: {alpha_e * 1e6:.2f} bandwidth_gbps: {bw_e / 1e9:.5f} scope: PER_HOST }}
nics_per_node: 1
gemm_tflops_fp32: {gemm:.5f}
compute_shared_by_host: true
memory_bandwidth_gbps: {mem_bw:.3f}
memory_gib: 6
phase_overhead_us: {ovh * 1e6:.2f}
"""
    open(f"{out}/emulated_{rate}m.pbtxt", "w").write(text)


# Memory bandwidth of the element-wise work: the figure that makes the predicted MoE layer of
# that 2-rank run equal the measured one (bisection; the prediction falls as the bandwidth grows).
def predict_np2(mem_bw):
    write(1000, mem_bw)
    o = subprocess.run([sy, "plan", "--cluster", f"{out}/emulated_1000m.pbtxt", "--world", "2",
                        "--ranks-per-node", "2", "--predict-bench", "moe-layer", "--bench-tokens",
                        str(T), "--bench-hidden", str(d), "--bench-ffn", str(F),
                        "--capacity-factors", "0", "--json"], capture_output=True, text=True,
                       check=True)
    return json.loads(o.stdout)[0]["moe_ms"]


lo, hi = 0.05, 1000.0
for _ in range(30):
    mid = math.sqrt(lo * hi)
    (lo, hi) = (mid, hi) if predict_np2(mid) > moe["moe_ms"] else (lo, mid)
mem_bw = math.sqrt(lo * hi)
for rate in (1000, 200):
    write(rate, mem_bw)
print(f"intra alpha {alpha_i*1e6:.1f} us bw {bw_i/1e9:.3f} GB/s ovh {ovh*1e6:.1f} us; gemm {gemm:.4f} TFLOP/s mem {mem_bw:.2f} GB/s")
for rate, (a, b, tk, tm) in figures.items():
    print(f"{rate}m: inter alpha {a*1e6:.1f} us bw {b/1e9:.4f} GB/s ({b*8/1e6/rate*100:.0f}% of the rate)")
