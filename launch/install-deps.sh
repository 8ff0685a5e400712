#!/usr/bin/env bash
# Installs what Switchyard needs to build, test and run; does nothing when it is all present:
#   1. Debian packages (needs root or sudo);
#   2. LibTorch: the torch wheel pinned in launch/torch_version, from PyPI, into a per-user
#      virtual environment keyed by the version, ${XDG_CACHE_HOME:-~/.cache}/switchyard/torch-<v>
#      (about 3 GB download, 5 GB installed: PyPI's torch for Linux is the CUDA build; it also
#      runs on machines without a GPU). CMake finds it there (CMakeLists.txt).
#   3. TensorBoard: the tensorboard wheel pinned below, from PyPI, into that same environment,
#      whose reader tests/train/tensorboard_reader_test.py uses (docs/tensorboard.md); its own
#      marker file, so an environment that already holds torch gets it too.
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
tensorboard_version=2.20.0

# The per-user virtual environment of the pinned torch (CMakeLists.txt looks there).
torch_venv() {
  local version
  version=$(head -n1 "$(dirname "$0")/torch_version")
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/torch-$version"
}

install_torch() {
  local version venv
  version=$(head -n1 "$(dirname "$0")/torch_version")
  venv=$(torch_venv)
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

# After install_torch (which recreates an environment without its marker, and this marker with
# it).
install_tensorboard() {
  local venv marker
  venv=$(torch_venv)
  marker="$venv/.installed-tensorboard-$tensorboard_version"
  if [ -f "$marker" ]; then
    return 0
  fi
  echo "install-deps: installing tensorboard==$tensorboard_version into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    "tensorboard==$tensorboard_version"
  touch "$marker"
}

if [ ${#missing[@]} -eq 0 ]; then
  install_torch
  install_tensorboard
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
install_tensorboard
