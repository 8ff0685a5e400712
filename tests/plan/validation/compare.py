#!/usr/bin/env python3
"""Predicted vs measured for docs/planner.md.

compare.py a2a LABEL PREDICTED.json MEASURED.json [MEASURED2.json]
compare.py moe LABEL PREDICTED.json MEASURED.json [MEASURED2.json]
Prints markdown rows: what, predicted, measured (mean of the runs, and their spread), error %.
Appends "label method bytes predicted measured" lines to plot.dat (a2a) for the figure, and
every row to rows.tsv (kind label method size predicted measured spread error) for summary.py.
"""
import json
import sys

kind, label, pred_path = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [json.load(open(p)) for p in sys.argv[4:]]
pred = json.load(open(pred_path))
rows = []


def tsv(method, size, p, m, spread, err):
    with open("rows.tsv", "a") as f:
        f.write(f"{kind}\t{label}\t{method}\t{size}\t{p:.3f}\t{m:.3f}\t{spread:.1f}\t{err:.2f}\n")


if kind == "a2a":
    for p in pred:
        vals = []
        for run in runs:
            for r in run["results"]:
                if r["method"] == p["method"] and r["bytes_per_peer"] == p["bytes_per_peer"]:
                    vals.append(r["latency_us"])
        if not vals:
            continue
        m = sum(vals) / len(vals)
        spread = (max(vals) - min(vals)) / m * 100 if len(vals) > 1 else 0
        err = (p["latency_us"] - m) / m * 100
        rows.append((label, p["method"], p["bytes_per_peer"], p["latency_us"], m, spread, err))
        tsv(p["method"], p["bytes_per_peer"], p["latency_us"], m, spread, err)
        with open("plot.dat", "a") as f:
            f.write(f'{label} {p["method"]} {p["bytes_per_peer"]} {p["latency_us"]:.1f} {m:.1f}\n')
    for r in rows:
        b = r[2]
        size = f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"
        print(f"| {r[0]} | {r[1]} | {size} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f}% | {r[6]:+.0f}% |")
else:
    names = {"flat": "flat", "hier": "hierarchical", "hierarchical": "hierarchical",
             "hier+dedup": "hier+dedup"}
    for p in pred:
        vals = []
        for run in runs:
            for r in run:
                if abs(r["capacity_factor"] - p["capacity_factor"]) < 1e-9 and \
                        names.get(r["all_to_all"]) == p["method"] and \
                        r.get("overlap_chunks", 1) == 1:
                    vals.append(r["moe_ms"])
        if not vals:
            continue
        m = sum(vals) / len(vals)
        spread = (max(vals) - min(vals)) / m * 100 if len(vals) > 1 else 0
        err = (p["moe_ms"] - m) / m * 100
        rows.append((label, p["method"], p["capacity_factor"], p["moe_ms"], m, spread, err))
        tsv(p["method"], p["capacity_factor"], p["moe_ms"], m, spread, err)
        cf = "dropless" if p["capacity_factor"] == 0 else f'{p["capacity_factor"]:.2f}'
        print(f"| {label} | {p['method']} | {cf} | {p['moe_ms']:.1f} | {m:.1f} | {spread:.0f}% | {err:+.0f}% |")
errs = sorted(abs(r[6]) for r in rows)
if errs:
    print(f"<!-- {kind} {label}: {len(errs)} rows, median |error| {errs[len(errs)//2]:.1f}%, max {errs[-1]:.1f}% -->")
