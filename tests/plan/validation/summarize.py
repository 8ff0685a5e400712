#!/usr/bin/env python3
"""Summary, crossover and plot of compare.py's rows.tsv (docs/planner.md §4).

summarize.py ROWS.tsv [PLOT.png]
Per label prefix (the link speed: "1000m", "200m") and overall: rows, median and max |error|,
rows within 15% / 25%. Crossover per a2a label: the smallest size from which hierarchical is
faster than flat at every larger size, predicted and measured. PLOT.png: predicted vs measured
(gnuplot), one panel per link speed, one colour per shape, marker per algorithm.
"""
import collections
import statistics
import sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rows = [(k, lab, meth, float(sz), float(p), float(m), float(sp), float(e))
        for k, lab, meth, sz, p, m, sp, e in rows]


def summary(name, rs):
    if not rs:
        return
    errs = sorted(abs(r[7]) for r in rs)
    n = len(errs)
    print(f"| {name} | {n} | {statistics.median(errs):.1f}% | {errs[-1]:.1f}% | "
          f"{sum(e <= 15 for e in errs)} | {sum(e <= 25 for e in errs)} |")


def speed(label):
    return label.split()[0]


print("| set | rows | median abs error | max abs error | within 15% | within 25% |")
print("|---|---|---|---|---|---|")
for kind in ("a2a", "moe"):
    for sp in sorted({speed(r[1]) for r in rows if r[0] == kind}, key=lambda s: -float(s.rstrip("m"))):
        summary(f"{kind} {sp}", [r for r in rows if r[0] == kind and speed(r[1]) == sp])
    summary(f"{kind} all", [r for r in rows if r[0] == kind])
summary("all rows", rows)
# The same rows split (not filtered away): bench a2a sizes >= 64 KiB per peer (the link's rate
# dominates) and below; rows whose two runs agree within 25% (spread) and the others.
a2a = [r for r in rows if r[0] == "a2a"]
summary("a2a >= 64 KiB", [r for r in a2a if r[3] >= 65536])
summary("a2a < 64 KiB", [r for r in a2a if r[3] < 65536])
summary("a2a flat >= 64 KiB", [r for r in a2a if r[3] >= 65536 and r[2] == "flat"])
summary("a2a hier+leader >= 64 KiB", [r for r in a2a if r[3] >= 65536 and r[2] != "flat"])
summary("a2a spread <= 25%", [r for r in a2a if r[6] <= 25])
summary("a2a spread > 25%", [r for r in a2a if r[6] > 25])

print()
print("| cluster | predicted crossover | measured crossover | hier/flat predicted by size | measured |")
print("|---|---|---|---|---|")
for lab in sorted({r[1] for r in rows if r[0] == "a2a"}):
    by = collections.defaultdict(dict)
    for r in rows:
        if r[0] == "a2a" and r[1] == lab:
            by[r[3]][r[2]] = (r[4], r[5])
    sizes = sorted(s for s in by if "flat" in by[s] and "hierarchical" in by[s])

    def cross(i):
        ratio = [by[s]["hierarchical"][i] / by[s]["flat"][i] for s in sizes]
        for j in range(len(sizes)):
            if all(x < 1 for x in ratio[j:]):
                return (f"{int(sizes[j]) >> 10} KiB" if sizes[j] < 1 << 20 else "1 MiB"), ratio
        return "none", ratio

    cp, rp = cross(0)
    cm, rm = cross(1)
    print(f"| {lab} | {cp} | {cm} | {' '.join(f'{x:.2f}' for x in rp)} | {' '.join(f'{x:.2f}' for x in rm)} |")

if len(sys.argv) > 2:
    # gnuplot (as the project's `plot`): one panel per link speed (bench a2a, one colour per
    # shape, one point type per algorithm) and one for bench moe-layer; dashed lines +-25%.
    import os
    import subprocess
    import tempfile
    tmp = tempfile.mkdtemp()
    speeds = sorted({speed(r[1]) for r in rows if r[0] == "a2a"}, key=lambda s: -float(s.rstrip("m")))
    shapes = sorted({r[1].split()[1] for r in rows})
    algs = ["flat", "hierarchical", "leader"]
    pt = {"flat": 7, "hierarchical": 5, "leader": 9}
    plots = []
    for sp in speeds + ["moe"]:
        series = []
        for shape in shapes:
            for a in algs:
                sel = [r for r in rows if r[2] == a and r[1].split()[1] == shape and
                       ((r[0] == "a2a" and speed(r[1]) == sp) or (sp == "moe" and r[0] == "moe"))]
                if not sel:
                    continue
                f = os.path.join(tmp, f"{sp}_{shape}_{a}.dat")
                with open(f, "w") as out:
                    for r in sel:
                        out.write(f"{r[5] / 1e3 if r[0] == 'a2a' else r[5]} {r[4] / 1e3 if r[0] == 'a2a' else r[4]}\n")
                lc = shapes.index(shape) + 1
                series.append(f"'{f}' using 1:2 with points pt {pt[a]} ps 0.9 lc {lc} title '{shape} {a}'")
        title = (f"bench a2a, {sp.rstrip('m')} Mbit/s links (ms)" if sp != "moe"
                 else "bench moe-layer fwd+bwd, default MoE model (ms)")
        log = "set logscale xy; set xrange [0.02:2000]; set yrange [0.02:2000]" if sp != "moe" else \
            "unset logscale; set xrange [0:*]; set yrange [0:*]; set autoscale"
        lines = "x notitle lc rgb 'black', 1.25*x notitle dt 2 lc rgb 'gray', 0.75*x notitle dt 2 lc rgb 'gray'"
        plots.append(f"{log}; set title \"{title}\"; set xlabel 'measured'; set ylabel 'predicted'; "
                     f"plot {', '.join(series)}, {lines}")
    script = (f"set terminal pngcairo size {520 * len(plots)},520 font ',9'; set output '{sys.argv[2]}';"
              f"set multiplot layout 1,{len(plots)}; set key top left font ',7'; "
              + "; ".join(plots) + "; unset multiplot")
    subprocess.run(["gnuplot", "-e", script], check=True)
