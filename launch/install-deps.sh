#!/usr/bin/env bash
# Installs the Debian packages Switchyard needs to build, test and run; does nothing when they
# are all present. Needs root (or sudo). Safe to run with no terminal (CI).
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache make
  libtorch-dev libopenblas0-pthread libblas-dev
  libopenmpi-dev openmpi-bin
  libprotobuf-dev protobuf-compiler
  libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libssl-dev
  gnuplot-nox
  slurm-wlm munge  # a real one-node Slurm for the batch-script test (tests/launch/slurm_test.sh)
  iproute2 util-linux  # ip, tc, unshare for the emulated cluster tests (tests/cluster/)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
