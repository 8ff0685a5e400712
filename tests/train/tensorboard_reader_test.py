#!/usr/bin/env python3
"""TensorBoard's own reader on Switchyard's event files (docs/tensorboard.md).

Usage: tensorboard_reader_test.py TOOL METRICS_JSONL WORKDIR
       tensorboard_reader_test.py --run-dir RUN_DIR

The second form compares the event files a `switchyard train` run wrote into RUN_DIR with the
run's own RUN_DIR/metrics.jsonl (every step must appear once in it).

Runs TOOL (tensorboard_write_tool) on METRICS_JSONL into WORKDIR/run (WORKDIR emptied first),
loads the event file with tensorboard.backend.event_processing.event_accumulator.EventAccumulator (the
reader behind TensorBoard's dashboards; nothing is kept back: size guidance 0 everywhere) and
compares with the JSON, computed here independently of the C++ code:
  * the set of scalar tags is exactly the JSON's numeric leaves (keys and indices joined with
    '/', the top-level "step" left out, booleans, strings and nulls skipped);
  * every scalar's (step, value) list equals the JSON's values rounded to float32;
  * each MoE layer's "moe/layers/<i>/tokens_per_expert" histogram has one bucket per expert with
    the JSON's counts, limits e + 0.5, and num, sum, sum of squares, min and max of the expert
    index over the tokens.
Then it writes a second file into the same directory as a run resumed from step 1 would (a
session start at step 2, steps 2 and 3 again with other losses) and compares again: the reader
must show step 1 from the first file and steps 2 and 3 from the second only.
Exit status 0 when everything matches, 1 otherwise (every mismatch printed).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import time


def float32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flatten(value, tag, out):
    if is_number(value):
        out[tag] = value
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{tag}/{k}" if tag else k, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, f"{tag}/{i}" if tag else str(i), out)


def expected_from(records):
    scalars = {}  # tag -> [(step, float32 value)]
    histograms = {}  # tag -> [(step, dict)]
    for record in records:
        step = record["step"]
        leaves = {}
        for k, v in record.items():
            if k != "step":
                flatten(v, k, leaves)
        for tag, v in leaves.items():
            scalars.setdefault(tag, []).append((step, float32(v)))
        for i, layer in enumerate(record.get("moe", {}).get("layers", [])):
            load = layer.get("tokens_per_expert")
            if not load:
                continue
            used = [e for e, n in enumerate(load) if n > 0]
            histograms.setdefault(f"moe/layers/{i}/tokens_per_expert", []).append(
                (step, {
                    "min": float(used[0]) if used else 0.0,
                    "max": float(used[-1]) if used else 0.0,
                    "num": float(sum(load)),
                    "sum": float(sum(e * n for e, n in enumerate(load))),
                    "sum_squares": float(sum(e * e * n for e, n in enumerate(load))),
                    "bucket_limit": [e + 0.5 for e in range(len(load))],
                    "bucket": [float(n) for n in load],
                }))
    return scalars, histograms


def read_back(event_accumulator, logdir):
    guidance = {k: 0 for k in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    acc = event_accumulator.EventAccumulator(logdir, size_guidance=guidance)
    acc.Reload()
    return acc


def compare(acc, records, failures):
    """Appends every difference between `acc` and `records` to `failures`; returns counts."""
    want_scalars, want_histograms = expected_from(records)
    if acc.file_version != 2.0:
        failures.append(f"file_version {acc.file_version}, expected 2.0")
    tags = acc.Tags()

    got_scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    got_scalars = {t: v for t, v in got_scalars.items() if v}  # a purged tag may stay listed
    if set(got_scalars) != set(want_scalars):
        failures.append(f"scalar tags: missing {sorted(set(want_scalars) - set(got_scalars))}, "
                        f"unexpected {sorted(set(got_scalars) - set(want_scalars))}")
    values = 0
    for tag in sorted(set(got_scalars) & set(want_scalars)):
        if got_scalars[tag] != want_scalars[tag]:
            failures.append(f"scalar {tag}: read {got_scalars[tag]}, "
                            f"expected {want_scalars[tag]}")
        values += len(got_scalars[tag])

    got_histograms = {}
    for tag in tags["histograms"]:
        got = [(e.step, {
            "min": e.histogram_value.min,
            "max": e.histogram_value.max,
            "num": e.histogram_value.num,
            "sum": e.histogram_value.sum,
            "sum_squares": e.histogram_value.sum_squares,
            "bucket_limit": list(e.histogram_value.bucket_limit),
            "bucket": list(e.histogram_value.bucket),
        }) for e in acc.Histograms(tag)]
        if got:
            got_histograms[tag] = got
    if set(got_histograms) != set(want_histograms):
        failures.append(f"histogram tags: read {sorted(got_histograms)}, "
                        f"expected {sorted(want_histograms)}")
    histograms = 0
    for tag in sorted(set(got_histograms) & set(want_histograms)):
        if got_histograms[tag] != want_histograms[tag]:
            failures.append(f"histogram {tag}: read {got_histograms[tag]}, "
                            f"expected {want_histograms[tag]}")
        histograms += len(got_histograms[tag])
    return len(want_scalars), values, histograms


def write(tool, jsonl, logdir, failures, *first_step):
    before = set(os.listdir(logdir)) if os.path.isdir(logdir) else set()
    written = subprocess.run([tool, jsonl, logdir, *map(str, first_step)], check=True,
                             capture_output=True, text=True)
    new = [f for f in set(os.listdir(logdir)) - before if "tfevents" in f]
    if len(new) != 1 or os.path.join(logdir, new[0]) != written.stdout.strip():
        failures.append(f"tool printed {written.stdout.strip()!r}, new files in {logdir}: {new}")


def check_run_dir(event_accumulator, run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    failures = []
    files = [f for f in os.listdir(run_dir) if "tfevents" in f]
    if not files:
        failures.append(f"no event file in {run_dir}")
    tags, values, histograms = compare(read_back(event_accumulator, run_dir), records, failures)
    if values == 0 or histograms == 0:
        failures.append(f"nothing compared: {values} scalar values, {histograms} histograms")
    for f in failures:
        print("FAIL:", f)
    print(f"tensorboard_reader_test: run {run_dir}: {len(files)} event file(s), "
          f"{len(records)} records, {tags} scalar tags, {values} scalar values and "
          f"{histograms} histograms compared; {len(failures)} mismatches")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--run-dir":
        try:
            from tensorboard.backend.event_processing import event_accumulator
        except ImportError as e:
            print(f"tensorboard_reader_test: no tensorboard package in {sys.executable} ({e}); "
                  "run launch/install-deps.sh", file=sys.stderr)
            return 1
        return check_run_dir(event_accumulator, argv[2])
    if len(argv) != 4:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    tool, jsonl, workdir = argv[1:]
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError as e:
        print(f"tensorboard_reader_test: no tensorboard package in {sys.executable} ({e}); "
              "run launch/install-deps.sh", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    with open(jsonl, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    failures = []

    # One run.
    logdir = os.path.join(workdir, "run")
    write(tool, jsonl, logdir, failures)
    tags, values, histograms = compare(read_back(event_accumulator, logdir), records, failures)

    # The same run stopped after step 3 and resumed from a checkpoint at step 1: its second file
    # starts a session at step 2 and repeats steps 2 and 3 with other values; the reader must
    # show the first file's step 1 and the second file's steps 2 and 3, each once.
    resumed = [dict(r, loss=r.get("loss", 0) + 100) for r in records if r["step"] >= 2]
    resumed_jsonl = os.path.join(workdir, "resumed.jsonl")
    with open(resumed_jsonl, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in resumed)
    time.sleep(1.05 - time.time() % 1)  # the next second: the file name sorts after the first
    write(tool, resumed_jsonl, logdir, failures, 2)
    kept = [r for r in records if r["step"] < 2] + resumed
    _, resumed_values, resumed_histograms = compare(read_back(event_accumulator, logdir), kept,
                                                    failures)

    for f in failures:
        print("FAIL:", f)
    print(f"tensorboard_reader_test: {len(records)} records, {tags} scalar tags, {values} "
          f"scalar values and {histograms} histograms compared; after a resume "
          f"{resumed_values} values and {resumed_histograms} histograms; "
          f"{len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
