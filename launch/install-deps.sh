#!/usr/bin/env bash
# Installs what Switchyard needs to build, test and run; does nothing when it is all present:
#   1. Debian packages (needs root or sudo);
#   2. LibTorch: the torch wheel pinned in launch/torch_version, from PyPI, into a per-user
#      virtual environment keyed by the version, ${XDG_CACHE_HOME:-~/.cache}/switchyard/torch-<v>
#      (about 3 GB download, 5 GB installed: PyPI's torch for Linux is the CUDA build; it also
#      runs on machines without a GPU). CMake finds it there (CMakeLists.txt).
#   3. Python packages the tests use, pinned (python_tools below), into the same environment.
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
  libsentencepiece-dev  # SentencePiece tokenizers and their trainer (train/data/)
  gnuplot-nox
  slurm-wlm munge  # a real one-node Slurm for the batch-script test (tests/launch/slurm_test.sh)
  iproute2 util-linux  # ip, tc, unshare for the emulated cluster tests (tests/cluster/)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
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

# Pinned PyPI packages the tests compare against, installed into the torch environment:
#   sentencepiece  tests/train/sentencepiece_ids_test.py (our ids == Python SentencePiece's)
#   tensorboard    tests/train/tensorboard_reader_test.py (TensorBoard's reader on our event files)
# The marker names a digest of the list, so a changed list installs again.
python_tools=(
  "sentencepiece==0.2.0"
  "tensorboard==2.20.0"
)
install_python_tools() {
  local venv marker
  venv=$(torch_venv)
  marker="$venv/.python-tools-$(printf '%s\n' "${python_tools[@]}" | sha256sum | cut -c1-16)"
  if [ -f "$marker" ]; then
    return 0
  fi
  echo "install-deps: installing ${python_tools[*]} into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "${python_tools[@]}"
  rm -f "$venv"/.python-tools-*
  touch "$marker"
}

if [ ${#missing[@]} -eq 0 ]; then
  install_torch
  install_python_tools
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
install_python_tools
