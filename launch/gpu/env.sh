#!/usr/bin/env bash
# env.sh of a Switchyard GPU bundle (written by launch/gpu-bundle.sh; source: launch/gpu/env.sh).
#
#   . gpu-bundle/env.sh                   # in bash: sets up this shell
#   gpu-bundle/env.sh switchyard --help   # or runs one command in that environment
#
# Sets PATH (the bundle's switchyard and Open MPI first), LD_LIBRARY_PATH (the bundle's libraries,
# then the host's LibTorch and its nvidia-* libraries), and the variables that make the bundle's
# Open MPI and PMIx look for their plugins, help files and settings inside the bundle
# (OPAL_PREFIX and the OPAL_*DIR / PMIX_*DIR variables: Open MPI relocated). LibTorch is not in
# the bundle: it is the host's torch (the same release as the build's, TORCH_VERSION in the
# bundle), found with
#   ${SWITCHYARD_PYTHON:-python3} -c 'import torch, os; print(os.path.dirname(torch.__file__))'
# or given as SWITCHYARD_TORCH_DIR=<site-packages>/torch.
# Libraries the bundle stores compressed (lib/*.xz) are unpacked the first time into
# ${XDG_CACHE_HOME:-~/.cache}/switchyard/gpu-bundle-lib/<checksum> (SWITCHYARD_BUNDLE_UNPACKED).
# If the host's libstdc++ is older than the bundle needs (REQUIRES), the bundle's own copy
# (lib/compat) is put on LD_LIBRARY_PATH too. A glibc older than REQUIRES says is refused.
# Exports SWITCHYARD_BUNDLE, SWITCHYARD_TORCH_DIR and SWITCHYARD_HOST_LD_LIBRARY_PATH (the value
# before, to run host programs without the bundle's libraries). Sourced twice, it starts again
# from the values before the first time.
# On failure it prints one line on stderr and returns 1 (exits 1 when run as a command).
# Not `set -euo pipefail`: this file is sourced into the caller's shell and leaves its options
# alone.

_sy_env_main() {
  local b py out torch_dir torch_version want have site d need host_glibc libstdcxx ldlp
  b=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P) || return 1
  if [ -n "${SWITCHYARD_BUNDLE:-}" ] && [ "${SWITCHYARD_HOST_ENV_SAVED:-}" = 1 ]; then
    # Sourced before (this bundle or another): start from the host's values again.
    PATH=${SWITCHYARD_HOST_PATH:-$PATH}
    if [ "${SWITCHYARD_HOST_LD_LIBRARY_PATH_SET:-0}" = 1 ]; then
      LD_LIBRARY_PATH=${SWITCHYARD_HOST_LD_LIBRARY_PATH:-}
    else
      unset LD_LIBRARY_PATH
    fi
  fi
  export SWITCHYARD_HOST_PATH="$PATH"
  if [ "${LD_LIBRARY_PATH+set}" = set ]; then
    export SWITCHYARD_HOST_LD_LIBRARY_PATH="$LD_LIBRARY_PATH" SWITCHYARD_HOST_LD_LIBRARY_PATH_SET=1
  else
    export SWITCHYARD_HOST_LD_LIBRARY_PATH="" SWITCHYARD_HOST_LD_LIBRARY_PATH_SET=0
  fi
  export SWITCHYARD_HOST_ENV_SAVED=1

  # The bundle's glibc need (REQUIRES: "GLIBC 2.34" and "GLIBCXX 3.4.30" lines).
  need=$(awk '$1 == "GLIBC" {print $2}' "$b/REQUIRES" 2>/dev/null)
  host_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
  if [ -n "$need" ] && [ -n "$host_glibc" ] &&
     [ "$(printf '%s\n%s\n' "$need" "$host_glibc" | sort -V | head -n1)" != "$need" ]; then
    echo "env.sh: this host's glibc is $host_glibc; the bundle needs glibc >= $need (built on Debian 12)" >&2
    return 1
  fi

  # The host's torch: its directory, release and the libstdc++ it loads.
  py=${SWITCHYARD_PYTHON:-python3}
  if [ -n "${SWITCHYARD_TORCH_DIR:-}" ]; then
    torch_dir=$SWITCHYARD_TORCH_DIR
    torch_version=$(sed -n "s/^__version__ = ['\"]\\([^'\"]*\\)['\"].*/\\1/p" \
                      "$torch_dir/version.py" 2>/dev/null)
    libstdcxx=""
  else
    if ! out=$("$py" -c '
import os, torch
print(os.path.dirname(torch.__file__))
print(torch.__version__)
print(next((l.split()[-1] for l in open("/proc/self/maps") if "libstdc++.so" in l), ""))
' 2>/dev/null); then
      echo "env.sh: '$py' cannot import torch; install torch $(head -n1 "$b/TORCH_VERSION" 2>/dev/null) or set SWITCHYARD_PYTHON / SWITCHYARD_TORCH_DIR" >&2
      return 1
    fi
    torch_dir=$(sed -n 1p <<<"$out")
    torch_version=$(sed -n 2p <<<"$out")
    libstdcxx=$(sed -n 3p <<<"$out")
  fi
  if [ ! -f "$torch_dir/lib/libtorch.so" ]; then
    echo "env.sh: no lib/libtorch.so under $torch_dir" >&2
    return 1
  fi
  want=$(head -n1 "$b/TORCH_VERSION" 2>/dev/null)
  if [ -n "$want" ] && [ "${torch_version%%+*}" != "${want%%+*}" ]; then
    echo "env.sh: the host's torch is ${torch_version:-of unknown release} ($torch_dir); the bundle was built against $want and loads only with that release" >&2
    return 1
  fi
  if [ -n "$want" ] && [ "$torch_version" != "$want" ]; then
    echo "env.sh: warning: the host's torch is $torch_version, the bundle's build used $want (another CUDA build may lack the CUDA libraries the bundle links)" >&2
  fi

  # Libraries stored compressed (lib/NAME.xz, the large ones: OpenBLAS): unpacked once into a
  # cache directory outside the bundle (so that the bundle keeps its carried size), named by the
  # checksum of the compressed files.
  local xzf lib unpacked=""
  if compgen -G "$b/lib/*.xz" >/dev/null; then
    unpacked="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/switchyard/gpu-bundle-lib/$(cat "$b"/lib/*.xz | cksum | cut -d' ' -f1)"
    if ! mkdir -p "$unpacked" 2>/dev/null; then
      unpacked="${TMPDIR:-/tmp}/switchyard-gpu-bundle-lib-$(id -u)/${unpacked##*/}"
      mkdir -p "$unpacked" || return 1
    fi
    for xzf in "$b"/lib/*.xz; do
      lib="$unpacked/$(basename "${xzf%.xz}")"
      if [ -f "$lib" ]; then
        continue
      fi
      # xz where it works, else python's lzma module.
      if ! xz -dc "$xzf" >"$lib.tmp.$$" 2>/dev/null &&
         ! "$py" -c 'import lzma, shutil, sys
shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$xzf" "$lib.tmp.$$"; then
        rm -f "$lib.tmp.$$"
        echo "env.sh: cannot unpack $xzf into $unpacked" >&2
        return 1
      fi
      mv -f "$lib.tmp.$$" "$lib"
    done
  fi

  site=$(dirname "$torch_dir")
  ldlp="$b/lib${unpacked:+:$unpacked}:$torch_dir/lib"
  for d in "$site"/nvidia/*/lib; do
    if [ -d "$d" ]; then
      ldlp="$ldlp:$d"
    fi
  done
  # libstdc++: the host's unless it lacks the newest GLIBCXX version the bundle uses.
  have=$(awk '$1 == "GLIBCXX" {print $2}' "$b/REQUIRES" 2>/dev/null)
  if [ -z "$libstdcxx" ]; then
    libstdcxx=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !n++ {print $NF}')
  fi
  if [ -n "$have" ] && [ -d "$b/lib/compat" ] &&
     { [ -z "$libstdcxx" ] ||
       ! grep -a -o 'GLIBCXX_[0-9.]*' "$libstdcxx" | grep -x -F "GLIBCXX_$have" >/dev/null; }; then
    echo "env.sh: the host's libstdc++ (${libstdcxx:-not found}) lacks GLIBCXX_$have; using the bundle's (lib/compat)" >&2
    ldlp="$b/lib/compat:$ldlp"
  fi
  if [ "${SWITCHYARD_HOST_LD_LIBRARY_PATH_SET}" = 1 ] && [ -n "$SWITCHYARD_HOST_LD_LIBRARY_PATH" ]; then
    ldlp="$ldlp:$SWITCHYARD_HOST_LD_LIBRARY_PATH"
  fi

  export SWITCHYARD_BUNDLE="$b" SWITCHYARD_TORCH_DIR="$torch_dir"
  export SWITCHYARD_BUNDLE_UNPACKED="$unpacked"
  export PATH="$b/bin:$b/ompi/bin:$PATH"
  export LD_LIBRARY_PATH="$ldlp"
  # Open MPI, relocated: every directory it would take from its build-time prefix.
  export OPAL_PREFIX="$b/ompi" OPAL_EXEC_PREFIX="$b/ompi" OPAL_BINDIR="$b/ompi/bin"
  export OPAL_LIBDIR="$b/lib" OPAL_PKGLIBDIR="$b/ompi/lib/openmpi3"
  export OPAL_DATAROOTDIR="$b/ompi/share" OPAL_DATADIR="$b/ompi/share"
  export OPAL_PKGDATADIR="$b/ompi/share/openmpi" OPAL_SYSCONFDIR="$b/ompi/etc"
  # PMIx (Open MPI's runtime), relocated the same way; its plugins only from the bundle.
  export PMIX_LIBDIR="$b/lib" PMIX_PKGLIBDIR="$b/pmix/lib/pmix" PMIX_DATADIR="$b/pmix/share"
  export PMIX_DATAROOTDIR="$b/pmix/share" PMIX_PKGDATADIR="$b/pmix/share/pmix"
  export PMIX_SYSCONFDIR="$b/pmix/etc" PMIX_MCA_mca_base_component_path="$b/pmix/lib/pmix"
  # hwloc: no plugins (the host's, if any, belong to another hwloc).
  export HWLOC_PLUGINS_PATH="$b/lib/hwloc"
  # Open MPI 4.1's mpirun ends at start-up when it finds neither ssh nor rsh, even for ranks on
  # this host only; there, launch without them (the "isolated" launcher: this host only).
  local agent="" dirs a
  IFS=: read -r -a dirs <<<"$PATH"
  for d in "${dirs[@]}"; do
    for a in ssh rsh; do
      if [ -f "$d/$a" ] && [ -x "$d/$a" ]; then
        agent="$d/$a"
      fi
    done
  done
  if [ -z "${OMPI_MCA_plm:-}" ] && [ -z "$agent" ]; then
    export OMPI_MCA_plm=isolated
  fi
  return 0
}

# _sy_env_main runs as a condition, so a caller's `set -e` cannot end the caller's shell half-way
# through it; it checks what can fail itself.
if (return 0 2>/dev/null); then
  if _sy_env_main; then
    unset -f _sy_env_main
    return 0
  fi
  unset -f _sy_env_main
  return 1
fi
set -euo pipefail
if ! _sy_env_main; then
  exit 1
fi
if [ $# -eq 0 ]; then
  echo "usage: . ${BASH_SOURCE[0]}   or   ${BASH_SOURCE[0]} COMMAND [ARGS...]" >&2
  exit 2
fi
exec "$@"
