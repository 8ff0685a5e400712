#!/usr/bin/env python3
"""Turns `ctest --show-only=json-v1` output (stdin) into the test list of a GPU bundle.

Usage: ctest --test-dir BUILD -L gpu --show-only=json-v1 |
           ctest_to_tsv.py --build BUILD --mpiexec MPIEXEC --tsv OUT.tsv

Writes one line per test to OUT.tsv, tab-separated:
  name, timeout (s), skip return code, skip regex, fail regex, pass regex, environment
  (space-separated NAME=VALUE), then the command's words;
an empty field is written as '-'. In the command, the build's mpiexec becomes @MPIEXEC@ and an
executable of the build becomes @TESTS@/<its file name>. Prints the paths of those executables
(one per line) on stdout, for launch/gpu-bundle.sh to copy. launch/gpu/run-gpu-tests.sh reads
the file on the GPU host. A test that needs something a bundle cannot carry (a script of the
source tree, a fixture, WILL_FAIL) is refused with one line on stderr, exit 1.
"""
import argparse
import json
import os
import sys

# CTest's default timeout when a test sets none.
DEFAULT_TIMEOUT = 1500
UNSUPPORTED = {"WILL_FAIL", "FIXTURES_REQUIRED", "FIXTURES_SETUP", "FIXTURES_CLEANUP", "DEPENDS",
               "REQUIRED_FILES", "ENVIRONMENT_MODIFICATION"}


def fail(message):
    print("ctest_to_tsv: " + message, file=sys.stderr)
    sys.exit(1)


def field(value):
    if value in (None, "", []):
        return "-"
    text = str(value)
    if "\t" in text or "\n" in text:
        fail("a property value holds a tab or newline: %r" % text)
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--tsv", required=True)
    args = parser.parse_args()
    build = os.path.realpath(args.build) + os.sep
    mpiexec = os.path.realpath(args.mpiexec)
    info = json.load(sys.stdin)
    executables = []
    lines = []
    for test in info.get("tests", []):
        name = test["name"]
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        bad = sorted(k for k in props if k in UNSUPPORTED and props[k] not in (False, "OFF", "0"))
        if bad:
            fail("test %s sets %s, which the bundle's runner does not support" % (name, bad))
        words = []
        for word in test.get("command", []):
            real = os.path.realpath(word) if os.path.isabs(word) else None
            if real == mpiexec or (real and os.path.basename(word) in ("mpiexec", "mpirun")):
                words.append("@MPIEXEC@")
            elif real and real.startswith(build) and os.path.isfile(real):
                if real not in executables:
                    executables.append(real)
                words.append("@TESTS@/" + os.path.basename(real))
            elif real and os.path.exists(real):
                fail("test %s runs %s, which the bundle does not carry" % (name, word))
            else:
                words.append(field(word))
        if not words:
            fail("test %s has no command" % name)
        env = props.get("ENVIRONMENT", [])
        for entry in env:
            if " " in entry:
                fail("test %s: environment entry with a space: %r" % (name, entry))
        regex = lambda key: "|".join(props.get(key, [])) or None  # noqa: E731
        row = [field(name), field(int(props.get("TIMEOUT", DEFAULT_TIMEOUT))),
               field(props.get("SKIP_RETURN_CODE")), field(regex("SKIP_REGULAR_EXPRESSION")),
               field(regex("FAIL_REGULAR_EXPRESSION")), field(regex("PASS_REGULAR_EXPRESSION")),
               field(" ".join(env))] + words
        lines.append("\t".join(row))
    if not lines:
        fail("no test carries the label asked for")
    with open(args.tsv, "w") as out:
        out.write("\n".join(lines) + "\n")
    for path in executables:
        print(path)


if __name__ == "__main__":
    main()
