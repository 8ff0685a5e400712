#!/usr/bin/env bash
# Installs what Switchyard needs to build, test and run; does nothing when it is all present:
#   1. Debian packages (needs root or sudo);
#   2. LibTorch: the torch wheel pinned in launch/torch_version, from PyPI, into a per-user
#      virtual environment keyed by the version, ${XDG_CACHE_HOME:-~/.cache}/switchyard/torch-<v>
#      (about 3 GB download, 5 GB installed: PyPI's torch for Linux is the CUDA build; it also
#      runs on machines without a GPU). CMake finds it there (CMakeLists.txt).
# Safe to run with no terminal (CI).
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache make
  python3 python3-venv
  libopenblas0-pthread libblas-dev
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
install_torch() {
  local version venv
  version=$(head -n1 "$(dirname "$0")/torch_version")
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/torch-$version"
  if [ -f "$venv/.installed" ]; then
    return 0
  fi
  echo "install-deps: installing torch==$version into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv"  # Debian's python3 (python3-venv), not one earlier on PATH
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "torch==$version"
  touch "$venv/.installed"
}

if [ ${#missing[@]} -eq 0 ]; then
  install_torch
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
install_torch
