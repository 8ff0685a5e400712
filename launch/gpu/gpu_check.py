#!/usr/bin/env python3
"""Helpers of launch/gpu-check.sh (the host's python3; torch only for `info` and `d2d`).

  gpu_check.py info OUT.json            torch, its CUDA and NCCL, the devices torch sees
  gpu_check.py d2d OUT.json [--cpu]     device-to-device copy bandwidth: a 1 GiB tensor copy_,
                                        3 warm-ups, 10 timed with CUDA events, median
                                        (--cpu: 256 MiB host copy, wall clock: the rehearsal)
  gpu_check.py train-rate METRICS.jsonl OUT.json
                                        tokens/s of a run: median over the second half of steps
  gpu_check.py report WORKDIR SUMMARY.md
                                        the summary (markdown) from what the steps left in WORKDIR
"""
import json
import os
import statistics
import sys
import time


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cmd_info(out):
    import torch  # noqa: PLC0415 (only this subcommand needs it)

    info = {"torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            "device_count": torch.cuda.device_count(), "devices": []}
    try:
        info["nccl"] = ".".join(str(x) for x in torch.cuda.nccl.version())
    except Exception as e:  # noqa: BLE001 (reported, not fatal)
        info["nccl"] = "unknown (%s)" % e
    for i in range(info["device_count"]):
        p = torch.cuda.get_device_properties(i)
        info["devices"].append({"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                                "capability": "%d.%d" % (p.major, p.minor),
                                "multiprocessors": p.multi_processor_count})
    write_json(out, info)
    print("torch %s (CUDA %s, NCCL %s); %d CUDA device(s)%s"
          % (info["torch"], info["torch_cuda"], info["nccl"], info["device_count"],
             "".join(": " + d["name"] for d in info["devices"][:1])))


def cmd_d2d(out, cpu):
    import torch  # noqa: PLC0415

    n = (256 if cpu else 1024) * 2**20
    device = "cpu" if cpu else "cuda"
    src = torch.empty(n, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times_ms = []
    for _ in range(10):
        if cpu:
            t0 = time.perf_counter()
            dst.copy_(src)
            times_ms.append((time.perf_counter() - t0) * 1e3)
        else:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            dst.copy_(src)
            end.record()
            end.synchronize()
            times_ms.append(start.elapsed_time(end))
    ms = statistics.median(times_ms)
    result = {"device": "cpu (rehearsal)" if cpu else torch.cuda.get_device_name(0),
              "bytes": n, "median_ms": ms, "min_ms": min(times_ms), "max_ms": max(times_ms),
              # bytes copied per second (each byte read once and written once)
              "copy_gbps": n / (ms * 1e-3) / 1e9,
              "read_plus_write_gbps": 2 * n / (ms * 1e-3) / 1e9}
    write_json(out, result)
    print("%.1f GB/s copied (%.1f GB/s read + write), %s, %s copy_, median %.3f ms"
          % (result["copy_gbps"], result["read_plus_write_gbps"], result["device"],
             human_bytes(n), ms))


def cmd_train_rate(metrics, out):
    steps = []
    final = None
    with open(metrics) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "tokens_per_second" in r:
                steps.append(r)
            elif r.get("final"):
                final = r
    if not steps:
        sys.exit("train-rate: no step records in %s" % metrics)
    tail = steps[len(steps) // 2:]
    result = {"steps": len(steps), "from_step": tail[0]["step"], "to_step": tail[-1]["step"],
              "tokens_per_second": statistics.median(r["tokens_per_second"] for r in tail),
              "step_ms": 1e3 * statistics.median(r["step_seconds"] for r in tail),
              "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"],
              "val_loss": final.get("val_loss") if final else None}
    write_json(out, result)
    print("%.0f tok/s, step %.1f ms (median of steps %d-%d); loss %.3f -> %.3f, val %s"
          % (result["tokens_per_second"], result["step_ms"], result["from_step"],
             result["to_step"], result["first_loss"], result["last_loss"],
             "-" if result["val_loss"] is None else "%.4f" % result["val_loss"]))


def fmt(x, digits=1):
    if x is None:
        return "-"
    if abs(x) >= 1e5:
        return "{:,.0f}".format(x)
    return "{:.{}f}".format(x, digits)


def human_bytes(n):
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return "%g %s" % (n / size, unit)
    return "%d B" % n


def cmd_report(work, summary):
    meta = {}  # meta.tsv: "key<TAB>value" lines written by gpu-check.sh
    try:
        with open(os.path.join(work, "meta.tsv")) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("\t")
                meta[key] = value
    except OSError:
        pass
    steps = []
    try:
        with open(os.path.join(work, "steps.tsv")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 4:
                    steps.append(parts)
    except OSError:
        pass
    info = read_json(os.path.join(work, "info.json")) or {}
    d2d = read_json(os.path.join(work, "d2d.json"))
    rehearsal = meta.get("rehearsal") == "1"
    failed = sum(1 for s in steps if s[1] == "FAIL")
    lines = []
    add = lines.append
    add("# Switchyard GPU check")
    add("")
    if rehearsal:
        add("**CPU rehearsal** (`--cpu-rehearsal`): every step ran on the CPU to check the script "
            "itself; no figure below is a GPU figure.")
        add("")
    state = "running" if meta.get("running") == "1" else ("FAILED" if failed else "passed")
    add("| | |")
    add("| --- | --- |")
    add("| result | %s: %d step(s), %d failed |" % (state, len(steps), failed))
    add("| started | %s on %s |" % (meta.get("started", "?"), meta.get("host", "?")))
    add("| binaries | %s |" % meta.get("binaries", "?"))
    gpus = meta.get("gpus", "").split(" ; ") if meta.get("gpus") else ["(none)"]
    add("| GPUs (nvidia-smi) | %s |" % "<br>".join(gpus))
    add("| driver / CUDA (driver) | %s / %s |" % (meta.get("driver", "?"), meta.get("cuda_driver", "?")))
    if info:
        add("| torch / its CUDA / its NCCL | %s / %s / %s |"
            % (info.get("torch"), info.get("torch_cuda"), info.get("nccl")))
        devs = ", ".join("%s (%s GiB, compute %s)" % (d["name"], d["memory_gib"], d["capability"])
                         for d in info.get("devices", []))
        add("| devices torch sees | %d: %s |" % (info.get("device_count", 0), devs or "none"))
    add("| NCCL the binary loads | %s |" % meta.get("binary_nccl", "?"))
    add("| ranks for training | %s (%s) |" % (meta.get("np", "?"), "CPU ranks" if rehearsal
                                              else "one per GPU"))
    add("")
    add("## Steps")
    add("")
    add("| step | result | seconds | note |")
    add("| --- | --- | ---: | --- |")
    for name, status, secs, note in steps:
        add("| %s | %s | %s | %s |" % (name, status, secs, note.replace("|", "/")))
    add("")
    add("## Figures")
    add("")
    add("| figure | value | how |")
    add("| --- | --- | --- |")
    device = "CPU" if rehearsal else "CUDA"
    for kind in ("dense", "moe"):
        r = read_json(os.path.join(work, "train-%s.json" % kind))
        label = "dense" if kind == "dense" else "MoE (8 experts, top-2)"
        if r:
            add("| training tokens/s, %s, %s | **%s** tok/s (step %s ms; loss %.3f -> %.3f, val %s) "
                "| default config, `parallel.device=%s`, %s rank(s); median of steps %d-%d |"
                % (label, device, fmt(r["tokens_per_second"], 0), fmt(r["step_ms"]),
                   r["first_loss"], r["last_loss"], fmt(r.get("val_loss"), 4), device,
                   meta.get("np", "?"), r["from_step"], r["to_step"]))
        else:
            add("| training tokens/s, %s, %s | - | step failed or skipped |" % (label, device))
    moe = read_json(os.path.join(work, "moe-layer.json"))
    setup = ""  # the bench's first line: ranks, threads, T, d, F, E, k
    try:
        with open(os.path.join(work, "bench-moe-layer.out"), errors="replace") as f:
            setup = next((l.split(": ", 1)[1].strip() for l in f
                          if l.startswith("switchyard bench moe-layer:")), "")
    except OSError:
        pass
    if moe:
        for r in moe:
            add("| MoE layer fwd+bwd, %s | **%s ms** (forward %s ms; dense-equivalent GEMMs %s ms, "
                "ratio %.3f; %s tok/s) | `bench moe-layer` (%s), **on the CPU**: the bench has no "
                "device option |"
                % (r["mode"], fmt(r["moe_ms"], 2), fmt(r["moe_forward_ms"], 2),
                   fmt(r["dense_ms"], 2), r["ratio"], fmt(r["tokens_per_s"], 0),
                   setup.replace("|", "/") or "see the log"))
    else:
        add("| MoE layer fwd+bwd | - | step failed or skipped |")
    if d2d:
        add("| device-to-device copy | **%s GB/s** copied (%s GB/s read + write) | %s, %s copy_, "
            "median of 10 (%.3f ms) |"
            % (fmt(d2d["copy_gbps"]), fmt(d2d["read_plus_write_gbps"]), d2d["device"],
               human_bytes(d2d["bytes"]), d2d["median_ms"]))
    else:
        add("| device-to-device copy | - | step failed or skipped |")
    a2a = read_json(os.path.join(work, "a2a.json"))
    if a2a and a2a.get("results"):
        sizes = sorted({r["bytes_per_peer"] for r in a2a["results"]})
        shown = sorted({s for s in sizes if s in (65536, 2**20)} | set(sizes[-1:]))
        for size in shown:
            cells = []
            for method in ("mpi_alltoallv", "flat", "hierarchical"):
                for r in a2a["results"]:
                    if r["bytes_per_peer"] == size and r["method"] == method:
                        ratio = ("**%.3g** of D2D" % (r["algbw_gbps"] / d2d["copy_gbps"])
                                 if d2d else "no D2D figure")
                        cells.append("%s %.3f GB/s = %s (%.0f us)"
                                     % (method, r["algbw_gbps"], ratio, r["latency_us"]))
            add("| all-to-all, %s per peer | %s | `bench a2a`, %d ranks (%s), %d iterations; "
                "**host memory over MPI**: the bench has no device option |"
                % (human_bytes(size), "<br>".join(cells), a2a.get("ranks", 0),
                   a2a.get("topology", "?"), a2a.get("iterations", 0)))
    else:
        add("| all-to-all | - | step failed or skipped |")
    counts = read_json(os.path.join(work, "gpu-tests.json"))
    add("")
    add("## gpu tests")
    add("")
    if counts:
        add("%d passed, %d failed, %d skipped (of %d run), by %s."
            % (counts["passed"], counts["failed"], counts["skipped"], counts["total"],
               counts["runner"]))
        if counts.get("lines"):
            add("")
            add("```")
            lines.extend(counts["lines"])
            add("```")
    else:
        add("not run.")
    add("")
    add("## Notes")
    add("")
    add("- `bench moe-layer` and `bench a2a` have no device option: their figures are CPU and host "
        "memory (MPI) figures taken on the GPU host. The all-to-all / D2D ratio compares the "
        "host-memory MPI exchange with the GPU's own copy bandwidth, not an NCCL exchange.")
    add("- a2a GB/s is `bench a2a`'s algbw: bytes per peer x ranks / latency, per rank.")
    add("- Every step's output: %s; scratch files (run directories, JSON): %s."
        % (meta.get("log", "?"), work))
    with open(summary + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(summary + ".tmp", summary)


def main(argv):
    if len(argv) >= 3 and argv[1] == "info":
        cmd_info(argv[2])
    elif len(argv) >= 3 and argv[1] == "d2d":
        cmd_d2d(argv[2], "--cpu" in argv[3:])
    elif len(argv) == 4 and argv[1] == "train-rate":
        cmd_train_rate(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "report":
        cmd_report(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
