#!/usr/bin/env bash
# Checks a GPU bundle (launch/gpu-bundle.sh) the way a GPU host without Debian's packages would
# use it, on this machine (no GPU needed):
#   1. copies it to a new directory under another name (relocated);
#   2. as root, in a private mount namespace, hides this machine's Open MPI and PMIx (plugin,
#      help and settings directories; mpirun/orterun/orted; ssh) and the Debian libraries the
#      bundle carries (each replaced by an empty file; not libz, libcrypto and libudev, which
#      every host has and its python3 loads), so that anything not taken from the bundle fails
#      loudly; elsewhere it skips this step and says so;
#   3. in a clean environment (env -i; PATH = PYTHON's directory, /usr/bin, /bin; HOME) sources
#      the bundle's env.sh, which finds LibTorch through PYTHON's torch, and runs:
#        - switchyard --help (env.sh has unpacked the compressed libraries by then);
#        - ldd of every ELF file of the bundle: each library from the bundle, the torch
#          environment or glibc/libstdc++/libgcc_s, none missing;
#        - a 2-rank `switchyard train` of the default config, 5 steps, under the bundle's mpirun;
#        - one rank without mpirun (Open MPI's singleton start, which runs the bundle's orted);
#        - the bundle's run-gpu-tests.sh (here every gpu test skips itself: no GPU).
# Usage: launch/gpu/check-bundle.sh BUNDLE PYTHON
#   PYTHON: a python3 with torch of the bundle's release (the build's environment:
#   ~/.cache/switchyard/torch-<version>/bin/python3)
# Prints what it runs; the last line says "bundle check: PASS" (exit 0) or names what failed.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: launch/gpu/check-bundle.sh BUNDLE PYTHON" >&2
  exit 2
fi
bundle=$(cd "$1" && pwd -P)
python=$2
[ -f "$bundle/env.sh" ] || { echo "check-bundle: $bundle is not a GPU bundle (no env.sh)" >&2; exit 2; }
[ -x "$python" ] || { echo "check-bundle: no python at $python" >&2; exit 2; }
pydir=$(cd "$(dirname "$python")" && pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sy-bundle-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
moved="$tmp/relocated copy/switchyard-gpu"  # a space in the path, on purpose
mkdir -p "$(dirname "$moved")"
cp -a "$bundle" "$moved"
echo "check-bundle: relocated copy at $moved"

# The commands run in the clean environment (arguments: the bundle, a scratch directory).
cat >"$tmp/inner.sh" <<'EOF'
set -euo pipefail
b=$1
w=$2
fail() { echo "bundle check: FAIL: $*"; exit 1; }
step() { echo; echo "== $*"; }
step ". env.sh"
# shellcheck source=/dev/null
. "$b/env.sh" || fail "env.sh"
echo "torch: $SWITCHYARD_TORCH_DIR"
echo "mpirun: $(command -v mpirun)"
[ "$(command -v mpirun)" = "$b/ompi/bin/mpirun" ] || fail "mpirun is not the bundle's"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

step "switchyard --help"
switchyard --help | head -n 3 || fail "switchyard --help"

step "ldd of every ELF file of the bundle"
site=$(dirname "$SWITCHYARD_TORCH_DIR")
unpacked=${SWITCHYARD_BUNDLE_UNPACKED:-/nonexistent}
n=0
while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  n=$((n + 1))
  while read -r line; do
    case "$line" in *" => "*) ;; *) continue ;; esac
    name=${line%% *}
    path=${line#* => }
    path=${path% (0x*}
    case "$path" in
      "not found") fail "$f: $name not found" ;;
      "$b"/*|"$site"/*|"$unpacked"/*) ;;
      *) case "$name" in
           libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libutil.so.*|\
           libresolv.so.*|libstdc++.so.*|libgcc_s.so.*) ;;
           *) fail "$f: $name from $path, outside the bundle and torch" ;;
         esac ;;
    esac
  done < <(ldd "$f" 2>&1)
done < <(find "$b" -type f -print0)
echo "$n ELF files: every library from the bundle (unpacked: ${SWITCHYARD_BUNDLE_UNPACKED:-none}), torch ($site) or glibc/libstdc++"

step "2 ranks: mpirun -np 2 switchyard train default.pbtxt (5 steps)"
cd "$w"
mpirun -np 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS \
  switchyard train "$b/examples/configs/default.pbtxt" \
  --set train.num_steps=5 --set parallel.world_size=2 --set parallel.expert_parallel_size=2 \
  --set comm.ranks_per_node=1 --set data.path="$b/examples/data/tinyshakespeare.txt" \
  --set logging.run_dir="$w/run-np2" --set train.eval_every=0 --set train.eval_batches=2 \
  --set logging.log_every=1 --set checkpoint.every_steps=0 || fail "2-rank training"
steps=$(grep -c '"step"' "$w/run-np2/metrics.jsonl")
[ "$steps" -ge 5 ] || fail "2-rank training wrote $steps step records"
echo "metrics.jsonl: $steps step records"

step "1 rank without mpirun (singleton: the bundle's orted)"
switchyard bench moe-layer --tokens 256 --iters 1 --warmup 0 --capacity-factors 0 ||
  fail "singleton bench moe-layer"

step "run-gpu-tests.sh (no GPU here: every test skips itself)"
"$b/run-gpu-tests.sh" --timeout-cap 300 --workdir "$w/gpu-tests" | tee "$w/gpu-tests.out" ||
  fail "run-gpu-tests.sh"
grep -q '^gpu tests: 0 passed, 0 failed, [1-9][0-9]* skipped' "$w/gpu-tests.out" ||
  fail "run-gpu-tests.sh: expected every test skipped"
echo
echo "bundle check: PASS"
EOF

mkdir -p "$tmp/work"
# XDG_CACHE_HOME in the scratch directory: env.sh unpacks the compressed libraries afresh.
clean_env=(env -i "PATH=$pydir:/usr/bin:/bin" "HOME=$HOME" "TMPDIR=$tmp" "XDG_CACHE_HOME=$tmp/cache")
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  # Paths to hide: Open MPI's and PMIx's directories, programs and ssh; the Debian copies of the
  # bundled libraries (their real files).
  hide_dirs=()
  for d in "$(ompi_info --path pkglibdir 2>/dev/null | awk '{print $NF}')" \
           "$(ompi_info --path pkgdatadir 2>/dev/null | awk '{print $NF}')" /etc/openmpi \
           /usr/lib/x86_64-linux-gnu/pmix2; do
    if [ -d "$d" ]; then hide_dirs+=("$d"); fi
  done
  hide_files=()
  for p in /usr/bin/orterun /usr/bin/orted /usr/bin/ssh; do
    if [ -e "$p" ]; then hide_files+=("$(readlink -f "$p")"); fi
  done
  for lib in "$bundle"/lib/*.so*; do
    lib=${lib%.xz}  # stored compressed: the library's own name
    case "$(basename "$lib")" in
      # Base libraries every host has, which its python3 and tools load too: stay visible.
      libz.so.*|libcrypto.so.*|libudev.so.*) continue ;;
    esac
    for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/blas; do
      if [ -e "$dir/$(basename "$lib")" ]; then
        hide_files+=("$(readlink -f "$dir/$(basename "$lib")")")
      fi
    done
  done
  mkdir -p "$tmp/empty"
  : >"$tmp/empty-file"
  echo "check-bundle: hiding ${#hide_dirs[@]} directories and ${#hide_files[@]} files of this machine (mount namespace)"
  printf '%s\n' "${hide_dirs[@]}" >"$tmp/hide-dirs"
  printf '%s\n' "${hide_files[@]}" | sort -u >"$tmp/hide-files"
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare -m --propagation private bash -c '
    set -euo pipefail
    t=$1; shift
    while read -r f; do mount --bind "$t/empty-file" "$f"; done <"$t/hide-files"
    while read -r d; do mount --bind "$t/empty" "$d"; done <"$t/hide-dirs"
    exec "$@"' _ "$tmp" "${clean_env[@]}" bash "$tmp/inner.sh" "$moved" "$tmp/work"
else
  echo "check-bundle: not root or no unshare: this machine's Open MPI and libraries stay visible"
  "${clean_env[@]}" bash "$tmp/inner.sh" "$moved" "$tmp/work"
fi
