#!/usr/bin/env python3
"""docs/planner.md §5: predicted flat vs hierarchical all-to-all on Tutel's testbed preset.

at_scale_tutel.py SWITCHYARD [CLUSTER]   (CLUSTER: default azure_ndm_a100_v4)
Prints a markdown table: for S bytes per GPU (Tutel arXiv 2206.03382 Appendix A.5 measured 1, 32
and 256 MiB; its MoE layer of Sec. 5.2 sends 128 MiB) and 16-4096 GPUs of 8 per node, the
predicted `bench a2a` exchange (S / W bytes per peer) of flat and hierarchical, and their ratio.
"""
import json
import subprocess
import sys

sy = sys.argv[1]
cluster = sys.argv[2] if len(sys.argv) > 2 else "azure_ndm_a100_v4"
MIB = 1 << 20
sizes = [1, 32, 128, 256]
worlds = [16, 64, 128, 256, 512, 1024, 2048, 4096]
print("| GPUs | " + " | ".join(f"{s} MiB: flat / hier ms, speedup" for s in sizes) + " |")
print("|---" * (len(sizes) + 1) + "|")
for w in worlds:
    cells = []
    for s in sizes:
        out = subprocess.run([sy, "plan", "--cluster", cluster, "--world", str(w),
                              "--ranks-per-node", "8", "--predict-bench", "a2a", "--bytes",
                              str(s * MIB // w), "--json"], capture_output=True, text=True,
                             check=True).stdout
        t = {r["method"]: r["latency_us"] / 1e3 for r in json.loads(out)}
        cells.append(f"{t['flat']:.3g} / {t['hierarchical']:.3g}, {t['flat'] / t['hierarchical']:.2f}x")
    print(f"| {w} | " + " | ".join(cells) + " |")
